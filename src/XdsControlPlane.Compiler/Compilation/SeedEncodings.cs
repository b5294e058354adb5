using System.Runtime.CompilerServices;
using Envoy.Config.Core.V3;
using Google.Protobuf;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// The encodings every tenant of a seed shares (the config source its filters and clusters name, the PROXY listener
/// filter): written once per seed and copied into each tenant's resources.
/// </summary>
internal sealed class SeedEncodings
{
    private static readonly ConditionalWeakTable<SeedSettings, SeedEncodings> BySeed = new();

    private SeedEncodings(SeedSettings seed)
    {
        ConfigSource = WriteConfigSource(seed);
        ProxyProtocolFilter = seed.ProxyProtocol ? SharedListeners.ProxyProtocolFilter() : null;
    }

    public static SeedEncodings For(SeedSettings seed) => BySeed.GetValue(seed, s => new SeedEncodings(s));

    /// <summary>Where ECDS filters, clusters' EDS and the tunneling listener's RDS and SRDS fetch from.</summary>
    public ByteString ConfigSource { get; }

    /// <summary>The PROXY protocol listener filter, or null when the seed does not use it.</summary>
    public ByteString? ProxyProtocolFilter { get; }

    /// <summary>
    /// <c>ConfigSource { resource_api_version: V3 }</c> with ADS, or with <c>api_config_source</c>: gRPC, transport V3,
    /// the node on the first message only, the seed's xDS cluster.
    /// </summary>
    private static ByteString WriteConfigSource(SeedSettings seed)
    {
        var writer = ProtoWriter.Start();
        if (seed.ConfigSource == ConfigSourceStyle.Grpc)
        {
            writer.Begin(Envoy.Config.Core.V3.ConfigSource.ApiConfigSourceFieldNumber)
                .UInt32(ApiConfigSource.ApiTypeFieldNumber, (uint)ApiConfigSource.Types.ApiType.Grpc)
                .Begin(ApiConfigSource.GrpcServicesFieldNumber)
                .Begin(GrpcService.EnvoyGrpcFieldNumber)
                .String(GrpcService.Types.EnvoyGrpc.ClusterNameFieldNumber, seed.XdsClusterName)
                .End()
                .End()
                .Bool(ApiConfigSource.SetNodeOnFirstMessageOnlyFieldNumber, true)
                .UInt32(ApiConfigSource.TransportApiVersionFieldNumber, (uint)ApiVersion.V3)
                .End();
        }
        else
        {
            writer.Begin(Envoy.Config.Core.V3.ConfigSource.AdsFieldNumber).End();
        }
        return writer.UInt32(Envoy.Config.Core.V3.ConfigSource.ResourceApiVersionFieldNumber, (uint)ApiVersion.V3).Finish();
    }
}
