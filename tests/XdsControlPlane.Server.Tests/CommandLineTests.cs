using System.Net;
using System.Reflection;
using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// The one command line (System.CommandLine): every flag in every spelling KKP and people use, the source chosen
/// from the flags and the environment, help, version, and one clear error for anything it cannot take.
/// </summary>
public sealed class CommandLineTests
{
    private static readonly Func<string, string?> NotInAPod = _ => null;
    private static readonly Func<string, string?> InAPod = name => name == "KUBERNETES_SERVICE_HOST" ? "10.96.0.1" : null;

    private static CommandLineResult Parse(params string[] args) => ControlPlaneCommandLine.Parse(args, NotInAPod);

    private static ServerOptions Server(params string[] args)
    {
        var result = Parse(args);
        Assert.True(result.Error is null, result.Error);
        return result.Server!;
    }

    private static KubernetesSourceOptions Kubernetes(params string[] args)
    {
        var result = Parse(args);
        Assert.True(result.Error is null, result.Error);
        return Assert.IsType<KubernetesSourceOptions>(result.Kubernetes);
    }

    private static string Error(params string[] args)
    {
        var result = Parse(args);
        Assert.Null(result.Server);
        Assert.Equal(2, result.ExitCode);
        Assert.NotNull(result.Error);
        Assert.DoesNotContain('\n', result.Error);
        return result.Error;
    }

    [Theory]
    [InlineData("-{0}={1}")]
    [InlineData("-{0} {1}")]
    [InlineData("--{0} {1}")]
    [InlineData("--{0}={1}")]
    public void EveryFlagIsTakenInEverySpelling(string form)
    {
        var folder = Directory.CreateTempSubdirectory("cli-tls-").FullName;
        try
        {
            EveryFlagIsTakenIn(form, XdsSecurityTests.WriteCertificates(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void EveryFlagIsTakenIn(string form, (string Cert, string Key, string Ca, System.Security.Cryptography.X509Certificates.X509Certificate2, System.Security.Cryptography.X509Certificates.X509Certificate2) tls)
    {
        string[] Arg(string name, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, form, name, value).Split(' ');
        var args = new (string Name, string Value)[]
        {
            ("listen-address", "127.0.0.1:18001"), ("debug-address", "127.0.0.1:18080"), ("metrics-address", "0.0.0.0:18090"),
            ("revocation-delay", "1m30s"), ("envoy-node-name", "np"), ("envoy-cluster-name", "np-cluster"),
            ("tls-cert-file", tls.Cert), ("tls-key-file", tls.Key), ("client-ca-file", tls.Ca),
            ("insecure", "true"), ("log-format", "json"), ("log-level", "debug"),
            ("envoy-sni-port", "16443"), ("envoy-tunneling-port", "18088"), ("namespace", "kubermatic"),
            ("expose-annotation-key", "example.com/expose"), ("kubeconfig", "/etc/kube/config"), ("context", "seed"),
            ("seed-namespace", "kkp"), ("seed-name", "europe-west"), ("event-namespace", "kube-system"),
            ("nodeport-proxy-service", "np-lb"), ("nodeport-proxy-namespace", "kkp-system"),
            ("watch-timeout", "10m"), ("watchdog-timeout", "90s"), ("debounce", "250ms"), ("max-delay", "2s"),
        }.SelectMany(a => Arg(a.Name, a.Value)).ToArray();

        var result = ControlPlaneCommandLine.Parse(args, NotInAPod);

        Assert.True(result.Error is null, result.Error);
        var server = result.Server!;
        var source = result.Kubernetes!;
        Assert.Equal("kubernetes", server.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 18001), server.ListenAddress);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 18080), server.DebugAddress);
        Assert.Equal(new IPEndPoint(IPAddress.Any, 18090), server.MetricsAddress);
        Assert.Equal(TimeSpan.FromSeconds(90), server.RevocationDelay);
        Assert.Equal("np", server.EnvoyNodeName);
        Assert.Equal("np-cluster", server.EnvoyClusterName);
        Assert.Equal(tls.Cert, server.TlsCertFile);
        Assert.Equal(tls.Key, server.TlsKeyFile);
        Assert.Equal(tls.Ca, server.ClientCaFile);
        Assert.True(server.Insecure);
        Assert.Equal("json", server.LogFormat);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, server.LogLevel);
        Assert.Equal(16443, source.EnvoySniPort);
        Assert.Equal(18088, source.EnvoyTunnelingPort);
        Assert.Equal("kubermatic", source.Namespace);
        Assert.Equal("example.com/expose", source.ExposeAnnotationKey);
        Assert.Equal("/etc/kube/config", source.Kubeconfig);
        Assert.Equal("seed", source.KubeContext);
        Assert.Equal("kkp", source.SeedNamespace);
        Assert.Equal("europe-west", source.SeedName);
        Assert.Equal("kube-system", source.EventNamespace);
        Assert.Equal("np-lb", source.NodePortProxyService);
        Assert.Equal("kkp-system", source.NodePortProxyNamespace);
        Assert.Equal(TimeSpan.FromMinutes(10), source.WatchTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), source.WatchdogTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), source.Debounce);
        Assert.Equal(TimeSpan.FromSeconds(2), source.MaxDelay);
    }

    [Fact]
    public void NoFlagsGiveTheDefaults()
    {
        var result = Parse();
        Assert.Equal(new ServerOptions(), result.Server);
        Assert.Null(result.Kubernetes);
    }

    [Fact]
    public void AKubernetesFlagChoosesTheKubernetesSource()
    {
        var result = Parse("-namespace=cluster-abc");
        Assert.Equal("kubernetes", result.Server!.Source);
        Assert.Equal("cluster-abc", result.Kubernetes!.Namespace);
    }

    [Fact]
    public void RunningInAPodChoosesTheKubernetesSourceUnlessFolderIsAskedFor()
    {
        Assert.Equal("kubernetes", ControlPlaneCommandLine.Parse(["-listen-address=127.0.0.1:8001"], InAPod).Server!.Source);
        Assert.NotNull(ControlPlaneCommandLine.Parse([], InAPod).Kubernetes);

        var folder = ControlPlaneCommandLine.Parse(["--source", "folder"], InAPod);
        Assert.Equal("folder", folder.Server!.Source);
        Assert.Null(folder.Kubernetes);
        Assert.Equal("folder", ControlPlaneCommandLine.Parse(["--input", "/srv/seed"], InAPod).Server!.Source);
    }

    [Fact]
    public void SourcesThatExcludeEachOtherAreRefused()
    {
        Assert.Contains("--namespace", Error("--source", "folder", "-namespace=x"), StringComparison.Ordinal);
        Assert.Contains("--input", Error("--source", "kubernetes", "--input", "/srv/seed"), StringComparison.Ordinal);
        Assert.Contains("--source", Error("--input", "/srv/seed", "--seed-name", "x"), StringComparison.Ordinal);
        Assert.Contains("'cloud'", Error("--source", "cloud"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--insecure", true)]
    [InlineData("-insecure", true)]
    [InlineData("-insecure=false", false)]
    [InlineData("--insecure=true", true)]
    public void ABooleanFlagAloneIsTrue(string arg, bool expected) => Assert.Equal(expected, Server(arg).Insecure);

    [Fact]
    public void ABooleanFlagDoesNotSwallowTheNextFlag()
    {
        var options = Server("-insecure", "-listen-address=127.0.0.1:18001");
        Assert.True(options.Insecure);
        Assert.Equal(18001, options.ListenAddress.Port);
    }

    [Fact]
    public void AValueThatLooksLikeAFlagIsAValue() =>
        Assert.Equal("-odd", Kubernetes("--namespace", "-odd").Namespace);

    [Fact]
    public void AnEmptyValueMeansNotSet()
    {
        var options = Kubernetes("-namespace=", "-seed-name=");
        Assert.Null(options.Namespace);
        Assert.Null(options.SeedName);
    }

    [Theory]
    [InlineData("-envoy-nod-name=kube", "'-envoy-nod-name=kube'")]
    [InlineData("--namspace", "'--namspace'")]
    [InlineData("-x", "'-x'")]
    [InlineData("stray", "'stray'")]
    [InlineData("@/etc/passwd", "'@/etc/passwd'")]
    public void AnUnknownFlagIsOneErrorLineNamingIt(string arg, string named) =>
        Assert.Contains(named, Error("-listen-address=127.0.0.1:8001", arg), StringComparison.Ordinal);

    [Theory]
    [InlineData("--debug-address", "127.0.0.1:0")]
    [InlineData("--debug-address", ":0")]
    [InlineData("--debug-address", "127.0.0.1")]
    [InlineData("--metrics-address", "localhost:8090")]
    [InlineData("--metrics-address", "127.0.0.1:0")]
    [InlineData("--listen-address", "8001")]
    [InlineData("--envoy-sni-port", "0")]
    [InlineData("--envoy-sni-port", "http")]
    [InlineData("--envoy-tunneling-port", "65536")]
    [InlineData("--watchdog-timeout", "soon")]
    [InlineData("--watchdog-timeout", "1e300s")]
    [InlineData("--watch-timeout", "Infinity")]
    [InlineData("--log-format", "xml")]
    [InlineData("--log-level", "chatty")]
    [InlineData("--log-level", "5")]
    public void ABadValueIsRefusedNamingTheFlag(string flag, string value) =>
        Assert.Contains(value is "xml" or "chatty" or "5" ? flag : $"{flag} '{value}'", Error($"{flag}={value}"), StringComparison.Ordinal);

    [Theory]
    [InlineData("--namespace")]
    [InlineData("-debounce")]
    public void AFlagWithoutItsValueIsRefused(string flag) => Error(flag);

    [Fact]
    public void SettingsThatCannotWorkTogetherAreRefused()
    {
        Assert.Contains("debounce", Error("-debounce=5s"), StringComparison.Ordinal); // longer than --max-delay
        Assert.Contains("watch-timeout", Error("-watch-timeout=500ms"), StringComparison.Ordinal);
        Assert.Contains("nodeport-proxy", Error("--nodeport-proxy-service="), StringComparison.Ordinal);
        Assert.Contains("--client-ca-file", Error("--tls-cert-file", "/etc/tls/tls.crt", "--tls-key-file", "/etc/tls/tls.key"), StringComparison.Ordinal);
        Assert.Contains("--insecure", Error("--listen-address", "0.0.0.0:8001"), StringComparison.Ordinal);
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
    [InlineData("1m30s", 90_000)]
    [InlineData("59m59s999ms", 3_599_999)]
    public void RevocationDelayIsADuration(string? value, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Server(value is null ? [] : ["--revocation-delay", value]).RevocationDelay);

    [Theory]
    [InlineData("61m")]
    [InlineData("1h0m1s")]
    [InlineData("3601")]
    [InlineData("-1s")]
    [InlineData("1e300s")]
    [InlineData("Infinity")]
    [InlineData("5 minutes")]
    public void ARevocationDelayOutsideZeroToOneHourIsRefused(string value) =>
        Assert.Contains("--revocation-delay", Error("--revocation-delay", value), StringComparison.Ordinal);

    [Fact]
    public void HelpListsEveryFlagWithItsDefault()
    {
        foreach (var args in new[] { new[] { "--help" }, ["-help"], ["-h"], ["-listen-address=127.0.0.1:1", "--help"] })
        {
            var result = Parse(args);
            Assert.Null(result.Server);
            Assert.Equal(0, result.ExitCode);
            Assert.NotNull(result.Output);
        }
        var help = Parse("--help").Output!;
        string[] flags =
        [
            "source", "input", "listen-address", "debug-address", "metrics-address", "revocation-delay", "envoy-node-name",
            "envoy-cluster-name", "tls-cert-file", "tls-key-file", "client-ca-file", "insecure", "log-format", "log-level",
            "envoy-sni-port", "envoy-tunneling-port", "namespace", "expose-annotation-key", "kubeconfig", "context",
            "seed-namespace", "seed-name", "nodeport-proxy-service", "nodeport-proxy-namespace", "event-namespace", "watch-timeout", "watchdog-timeout", "debounce", "max-delay", "version",
        ];
        var lines = help.Split('\n');
        foreach (var flag in flags)
        {
            var line = Assert.Single(lines, l => l.TrimStart().StartsWith($"--{flag} ", StringComparison.Ordinal));
            Assert.True(flag is "version" || line.Contains("Default: ", StringComparison.Ordinal), line);
        }
        // The defaults shown are the real ones, not a second copy that could drift.
        Assert.Contains("Default: 127.0.0.1:8001.", help, StringComparison.Ordinal);
        Assert.Contains("Default: 5s.", help, StringComparison.Ordinal);
        Assert.Contains("Default: 2m.", help, StringComparison.Ordinal);
        Assert.Contains("Default: 100ms.", help, StringComparison.Ordinal);
    }

    [Fact]
    public void VersionIsTheAssemblysInformationalVersion()
    {
        var expected = typeof(ServerOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        foreach (var arg in new[] { "--version", "-version" })
        {
            var result = Parse(arg);
            Assert.Null(result.Server);
            Assert.Equal(0, result.ExitCode);
            Assert.Equal($"xds-control-plane {expected}", result.Output!.Trim());
        }
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    [InlineData("250ms", 250)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("2m3.5s", 123_500)]
    [InlineData("1500us", 1.5)]
    [InlineData("2000000ns", 2)]
    [InlineData("45", 45_000)]
    public void DurationsAreGoStyle(string text, double milliseconds)
    {
        Assert.True(GoDuration.TryParse(text, out var duration), text);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("-5s")]
    [InlineData("+5s")]
    [InlineData("5d")]
    [InlineData("1h-30m")]
    [InlineData("5 s")]
    [InlineData("1e300h")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    public void NotADuration(string text) => Assert.False(GoDuration.TryParse(text, out _), text);

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(250, "250ms")]
    [InlineData(5_000, "5s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(5_400_000, "1h30m")]
    [InlineData(1_500, "1.5s")]
    public void DurationsArePrintedAsTheyAreRead(int milliseconds, string text)
    {
        Assert.Equal(text, GoDuration.Format(TimeSpan.FromMilliseconds(milliseconds)));
        Assert.True(GoDuration.TryParse(text, out var back));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), back);
    }
}
