namespace XdsControlPlane.Model;

public enum DiagnosticSeverity
{
    Info,
    Warning,
    Error,
}
