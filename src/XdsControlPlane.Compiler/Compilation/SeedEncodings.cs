using System.Runtime.CompilerServices;
using Google.Protobuf;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// The encodings every tenant of a seed shares (the config source its filters name, the PROXY listener filter,
/// the fields every cluster has): serialised once per seed and copied into each tenant's resources.
/// </summary>
internal sealed class SeedEncodings
{
    private static readonly ConditionalWeakTable<SeedSettings, SeedEncodings> BySeed = new();

    private SeedEncodings(SeedSettings seed)
    {
        ConfigSource = ProtoBytes.Serialize(TenantCompiler.ConfigSourceFor(seed));
        ProxyProtocolFilter = seed.ProxyProtocol ? ProtoBytes.Serialize(SharedListeners.ProxyProtocolFilter()) : null;
        ClusterTail = ProtoBytes.Serialize(TenantCompiler.Cluster("", seed));
    }

    public static SeedEncodings For(SeedSettings seed) => BySeed.GetValue(seed, s => new SeedEncodings(s));

    /// <summary><see cref="TenantCompiler.ConfigSourceFor"/>: where ECDS filters and clusters' EDS fetch from.</summary>
    public ByteString ConfigSource { get; }

    /// <summary>The PROXY protocol listener filter, or null when the seed does not use it.</summary>
    public ByteString? ProxyProtocolFilter { get; }

    /// <summary>A cluster's encoding after its name (field 1): the same for every cluster of the seed.</summary>
    public ByteString ClusterTail { get; }
}
