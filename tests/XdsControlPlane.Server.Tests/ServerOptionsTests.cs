using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Server.Tests;

/// <summary>One command line, two readers: the host's flags and envoy-manager's flags for the Kubernetes source.</summary>
public sealed class ServerOptionsTests
{
    [Fact]
    public void KubernetesModeHandsEnvoyManagerFlagsToTheSourceAndKeepsTheHostsOwn()
    {
        var options = ServerOptions.Parse(["--source", "kubernetes", "--debug-address", "127.0.0.1:9090", "-listen-address=127.0.0.1:8001",
            "--namespace", "cluster-abc", "-envoy-sni-port=7443", "--expose-annotation-key", "example.com/expose"]);
        var source = KubernetesSourceOptions.Parse(options.SourceArgs);

        Assert.Equal("kubernetes", options.Source);
        Assert.Equal(9090, options.DebugAddress.Port);
        Assert.Equal(8001, options.ListenAddress.Port);
        Assert.Equal("cluster-abc", source.Namespace);
        Assert.Equal(7443, source.EnvoySniPort);
        Assert.Equal("example.com/expose", source.ExposeAnnotationKey);
        Assert.Equal("127.0.0.1:8001", source.ListenAddress);
    }

    [Theory]
    [InlineData(null, 5_000)]
    [InlineData("0", 0)]
    [InlineData("500ms", 500)]
    [InlineData("10s", 10_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("90", 90_000)]
    public void RevocationDelayIsADuration(string? value, int milliseconds)
    {
        var options = ServerOptions.Parse(value is null ? [] : ["--revocation-delay", value]);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), options.RevocationDelay);
        Assert.Empty(options.SourceArgs);
    }

    [Fact]
    public void ABadRevocationDelayIsRefused() =>
        Assert.Contains("revocation-delay", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--revocation-delay", "soon"])).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("61m")]
    [InlineData("3601")]
    [InlineData("-1s")]
    [InlineData("1e300s")]
    [InlineData("Infinity")]
    [InlineData("5 minutes")]
    public void ARevocationDelayOutsideZeroToOneHourIsRefused(string value) =>
        Assert.Contains("--revocation-delay", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--revocation-delay", value])).Message, StringComparison.Ordinal);

    [Fact]
    public void MetricsAddressIsTheHostsOwn_Loopback8090ByDefault()
    {
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 8090), ServerOptions.Parse([]).MetricsAddress);
        var options = ServerOptions.Parse(["--metrics-address", ":9102"]);
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Any, 9102), options.MetricsAddress);
        Assert.Empty(options.SourceArgs);
        Assert.Contains("--metrics-address", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--metrics-address", "127.0.0.1:0"])).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void AFlagNobodyOwnsIsRefusedInFolderMode()
    {
        var error = Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--input", "/tmp/x", "--namspace", "a"]));
        Assert.Contains("--namspace", error.Message, StringComparison.Ordinal);
        Assert.Empty(ServerOptions.Parse(["--input", "/tmp/x", "--debug-address", "127.0.0.1:9090"]).SourceArgs);
    }

    [Theory]
    [InlineData("127.0.0.1:0")]
    [InlineData(":0")]
    [InlineData("127.0.0.1")]
    public void ADebugAddressWithoutAPortIsRefused(string value) =>
        Assert.Contains("--debug-address", Assert.Throws<ArgumentException>(() => ServerOptions.Parse(["--debug-address", value])).Message, StringComparison.Ordinal);
}
