using System.Security.Cryptography;

namespace XdsControlPlane.Xds.Internal;

/// <summary>
/// Nonces unique in this process (a counter) and across restarts and replicas (a random prefix), so a
/// nonce from an earlier stream or an earlier server is never mistaken for a current one.
/// </summary>
internal static class Nonces
{
    private static readonly string Prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private static long _counter;

    public static string Next() => string.Create(null, stackalloc char[32], $"{Prefix}-{Interlocked.Increment(ref _counter):x}");
}
