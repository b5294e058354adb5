namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// No usable Kubernetes client configuration: the message names the file (or the in-cluster setup) and what is wrong
/// with it, in one line, for the command line to print before exiting with status 2.
/// </summary>
public sealed class KubeconfigException(string message, Exception? inner = null) : Exception(message, inner);
