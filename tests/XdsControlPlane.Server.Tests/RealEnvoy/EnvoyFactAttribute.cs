namespace XdsControlPlane.Server.Tests.RealEnvoy;

/// <summary>
/// A fact that needs a real Envoy: <c>ENVOY_BIN</c> must name an executable file. Otherwise the test is skipped
/// with the reason, so the summary counts it as skipped (never as passed).
/// </summary>
public sealed class EnvoyFactAttribute : FactAttribute
{
    public const string Variable = "ENVOY_BIN";

    public EnvoyFactAttribute()
    {
        if (SkipReason(Environment.GetEnvironmentVariable(Variable)) is { } reason)
        {
            Skip = reason;
        }
    }

    /// <summary>Why a test needing Envoy cannot run with this value of ENVOY_BIN, or null when it can.</summary>
    public static string? SkipReason(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return $"{Variable} is not set: set it to an Envoy binary to run the real-Envoy end-to-end test (make e2e)";
        }
        if (!File.Exists(path))
        {
            return $"{Variable}={path} does not exist";
        }
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
        {
            return $"{Variable}={path} is not executable";
        }
        return null;
    }
}
