using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

public sealed class KubernetesSourceOptionsTests
{
    [Fact]
    public void Defaults_MatchEnvoyManager()
    {
        var options = new KubernetesSourceOptions();
        Assert.Equal("127.0.0.1:8001", options.ListenAddress);
        Assert.Equal("kube", options.EnvoyNodeName);
        Assert.Equal(6443, options.EnvoySniPort);
        Assert.Equal(8088, options.EnvoyTunnelingPort);
        Assert.Equal("nodeport-proxy.k8s.io/expose", options.ExposeAnnotationKey);
        Assert.Null(options.Namespace);
        Assert.Equal(("nodeport-proxy", "kubermatic"), (options.NodePortProxyService, options.NodePortProxyNamespace)); // KKP's
    }

    [Fact]
    public void TheNodePortProxyServiceIsNamedByFlags_AndReachesTheTranslation()
    {
        var options = KubernetesSourceOptions.Parse(["--nodeport-proxy-service", "npp", "-nodeport-proxy-namespace=proxy"]);
        var translation = options.ToTranslationOptions();
        Assert.Equal(("npp", "proxy"), (translation.NodePortProxyServiceName, translation.NodePortProxyNamespace));
        Assert.Throws<FormatException>(() => KubernetesSourceOptions.Parse(["--nodeport-proxy-service="]));
    }

    [Fact]
    public void EnvoyManagerFlags_AreAccepted_InBothSpellings()
    {
        var options = KubernetesSourceOptions.Parse([
            "-listen-address=127.0.0.1:18001", "--envoy-node-name", "np", "-envoy-sni-port=16443", "--envoy-tunneling-port=18088",
            "-namespace", "kubermatic", "-expose-annotation-key=example.com/expose", "-watchdog-timeout=90s", "-debounce=250ms",
        ]);
        Assert.Equal("127.0.0.1:18001", options.ListenAddress);
        Assert.Equal("np", options.EnvoyNodeName);
        Assert.Equal(16443, options.EnvoySniPort);
        Assert.Equal(18088, options.EnvoyTunnelingPort);
        Assert.Equal("kubermatic", options.Namespace);
        Assert.Equal("example.com/expose", options.ExposeAnnotationKey);
        Assert.Equal(TimeSpan.FromSeconds(90), options.WatchdogTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.Debounce);

        var translation = options.ToTranslationOptions();
        Assert.Equal("example.com/expose", translation.ExposeAnnotationKey);
        Assert.Equal("kubermatic", translation.Namespace);
        Assert.Equal(16443, translation.SniPort);
        Assert.Equal(18088, translation.TunnelingPort);
    }

    [Theory]
    [InlineData("-envoy-sni-port=0")]
    [InlineData("-envoy-sni-port=http")]
    [InlineData("-no-such-flag=1")]
    [InlineData("-watchdog-timeout=soon")]
    [InlineData("-debounce=5s")] // longer than the max delay
    [InlineData("-watchdog-timeout=1e300s")] // beyond TimeSpan: refused, not an OverflowException
    [InlineData("-watch-timeout=Infinity")]
    [InlineData("-namespace")]
    public void BadFlags_AreRefused(string arg) =>
        Assert.Throws<FormatException>(() => KubernetesSourceOptions.Parse([arg]));

    [Fact]
    public void Kubeconfig_IsUsedWhenGiven()
    {
        var path = Path.Combine(Path.GetTempPath(), $"kubeconfig-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, """
            apiVersion: v1
            kind: Config
            clusters:
            - name: seed
              cluster: {server: "https://seed.example.com:6443", insecure-skip-tls-verify: true}
            users:
            - name: proxy
              user: {token: abc}
            contexts:
            - name: seed
              context: {cluster: seed, user: proxy, namespace: kubermatic}
            current-context: seed
            """);
        try
        {
            var config = (new KubernetesSourceOptions { Kubeconfig = path }).CreateClientConfiguration();
            Assert.Equal("https://seed.example.com:6443/", config.Host.TrimEnd('/') + "/");
            Assert.Equal("abc", config.AccessToken);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
