using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>
/// The Kubernetes source's settings: envoy-manager's defaults, and the kubeconfig found as kubectl finds it
/// (<c>--kubeconfig</c>, <c>$KUBECONFIG</c>, <c>~/.kube/config</c>, in-cluster), a bad one being one clear error.
/// The flags themselves are parsed by the host's command line (its tests).
/// </summary>
public sealed class KubernetesSourceOptionsTests : IDisposable
{
    private const string Valid = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: seed
          cluster: {server: "https://seed.example.com:6443", insecure-skip-tls-verify: true}
        - name: other
          cluster: {server: "https://other.example.com:6443", insecure-skip-tls-verify: true}
        users:
        - name: proxy
          user: {token: abc}
        - name: nobody
          user: {}
        contexts:
        - name: seed
          context: {cluster: seed, user: proxy, namespace: kubermatic}
        - name: other
          context: {cluster: other, user: proxy}
        - name: anonymous
          context: {cluster: seed, user: nobody}
        current-context: seed
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("kubeconfig-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private Func<string, string?> Environment(string? kubeconfig = null, bool inPod = false) => name => name switch
    {
        "KUBECONFIG" => kubeconfig,
        "HOME" => _dir,
        "KUBERNETES_SERVICE_HOST" => inPod ? "10.96.0.1" : null,
        _ => null,
    };

    private static string Refused(KubernetesSourceOptions options, Func<string, string?> environment)
    {
        var error = Assert.Throws<KubeconfigException>(() => options.CreateClientConfiguration(environment));
        Assert.DoesNotContain('\n', error.Message);
        return error.Message;
    }

    [Fact]
    public void Defaults_MatchEnvoyManager()
    {
        var options = new KubernetesSourceOptions();
        Assert.Equal(6443, options.EnvoySniPort);
        Assert.Equal(8088, options.EnvoyTunnelingPort);
        Assert.Equal("nodeport-proxy.k8s.io/expose", options.ExposeAnnotationKey);
        Assert.Null(options.Namespace);
        Assert.Equal(("nodeport-proxy", "kubermatic"), (options.NodePortProxyService, options.NodePortProxyNamespace)); // KKP's
        var translation = (options with { Namespace = "kubermatic", EnvoySniPort = 16443, NodePortProxyService = "npp", NodePortProxyNamespace = "proxy" })
            .ToTranslationOptions();
        Assert.Equal(("npp", "proxy"), (translation.NodePortProxyServiceName, translation.NodePortProxyNamespace));
        Assert.Equal("kubermatic", translation.Namespace);
        Assert.Equal(16443, translation.SniPort);
    }

    [Fact]
    public void TheKubeconfigFlagComesFirst()
    {
        var path = Write("flag.yaml", Valid);
        Write("env.yaml", Valid.Replace("abc", "from-env", StringComparison.Ordinal));
        var config = new KubernetesSourceOptions { Kubeconfig = path }.CreateClientConfiguration(Environment(Path.Combine(_dir, "env.yaml")));
        Assert.Equal("https://seed.example.com:6443", config.Host.TrimEnd('/'));
        Assert.Equal("abc", config.AccessToken);
    }

    [Fact]
    public void KubeconfigVariable_TheFirstExistingFileOfTheListIsUsed()
    {
        var second = Write("second.yaml", Valid.Replace("abc", "second", StringComparison.Ordinal));
        Write(".kube/config", Valid.Replace("abc", "home", StringComparison.Ordinal));
        var list = string.Join(Path.PathSeparator, Path.Combine(_dir, "missing.yaml"), second);
        var config = new KubernetesSourceOptions().CreateClientConfiguration(Environment(list, inPod: true));
        Assert.Equal("second", config.AccessToken);
    }

    [Fact]
    public void TheHomeKubeconfigIsUsedWithoutTheVariable()
    {
        Write(".kube/config", Valid.Replace("abc", "home", StringComparison.Ordinal));
        Assert.Equal("home", new KubernetesSourceOptions().CreateClientConfiguration(Environment()).AccessToken);
    }

    [Fact]
    public void TheContextFlagChoosesTheContext() =>
        Assert.Equal("https://other.example.com:6443",
            new KubernetesSourceOptions { Kubeconfig = Write("c.yaml", Valid), KubeContext = "other" }.CreateClientConfiguration(Environment()).Host.TrimEnd('/'));

    [Fact]
    public void InAPodWithoutAKubeconfigTheServiceAccountIsUsed()
    {
        // This machine is no pod: the service account token is missing, which must be said in one line, not thrown raw.
        var message = Refused(new KubernetesSourceOptions(), Environment(inPod: true));
        Assert.Contains("in-cluster", message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingKubeconfigIsOneClearError()
    {
        Assert.Contains("(--kubeconfig) does not exist", Refused(new KubernetesSourceOptions { Kubeconfig = Path.Combine(_dir, "nope") }, Environment()),
            StringComparison.Ordinal);
        Assert.Contains("$KUBECONFIG", Refused(new KubernetesSourceOptions(), Environment(Path.Combine(_dir, "nope"))), StringComparison.Ordinal);
        Assert.Contains("--kubeconfig", Refused(new KubernetesSourceOptions(), Environment()), StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownContextIsOneClearError()
    {
        var path = Write("c.yaml", Valid);
        var message = Refused(new KubernetesSourceOptions { Kubeconfig = path, KubeContext = "staging" }, Environment());
        Assert.Contains(path, message, StringComparison.Ordinal);
        Assert.Contains("staging", message, StringComparison.Ordinal);
    }

    [Fact]
    public void AUserWithoutCredentialsIsOneClearError()
    {
        var path = Write("c.yaml", Valid);
        var message = Refused(new KubernetesSourceOptions { Kubeconfig = path, KubeContext = "anonymous" }, Environment());
        Assert.Contains(path, message, StringComparison.Ordinal);
        Assert.True(message.Contains("credentials", StringComparison.Ordinal), message);
    }

    [Fact]
    public void AContextWithoutAUserIsRefusedExceptForKubectlProxy()
    {
        const string NoUser = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: seed
              cluster: {server: "SERVER"}
            contexts:
            - name: seed
              context: {cluster: seed}
            current-context: seed
            """;
        var https = Write("https.yaml", NoUser.Replace("SERVER", "https://seed.example.com:6443", StringComparison.Ordinal));
        Assert.Contains("credentials", Refused(new KubernetesSourceOptions { Kubeconfig = https }, Environment()), StringComparison.Ordinal);

        // `kubectl proxy` serves plain http on loopback and adds the credentials itself.
        var proxy = Write("proxy.yaml", NoUser.Replace("SERVER", "http://127.0.0.1:8001", StringComparison.Ordinal));
        Assert.Equal("http://127.0.0.1:8001", new KubernetesSourceOptions { Kubeconfig = proxy }.CreateClientConfiguration(Environment()).Host.TrimEnd('/'));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not: [a, kubeconfig")]
    [InlineData("apiVersion: v1\nkind: Config\n")]
    public void AFileThatIsNoKubeconfigIsOneClearError(string text)
    {
        var path = Write("bad.yaml", text);
        Assert.Contains(path, Refused(new KubernetesSourceOptions { Kubeconfig = path }, Environment()), StringComparison.Ordinal);
    }
}
