using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace XdsControlPlane.Server.Tests.RealEnvoy;

/// <summary>What the real-Envoy test changes in the shipped example and bootstrap, kept apart so it is checked without Envoy.</summary>
public static class E2ESetup
{
    public const string Tenant = "k7x2m9p4qz";
    public const string Hostname = "k7x2m9p4qz.europe-central.dev.kubermatic.io";
    public const string TunnelAuthority = "apiserver-external.cluster-k7x2m9p4qz.svc.cluster.local:443";
    public const string NodePortListener = "cluster-k7x2m9p4qz/apiserver-external-secure";

    /// <summary>A source address on the tenant's list, and one that is not (both on Linux's loopback 127.0.0.0/8).</summary>
    public static readonly IPAddress Allowed = IPAddress.Parse("127.0.0.2");
    public static readonly IPAddress Denied = IPAddress.Parse("127.0.0.3");

    /// <summary>
    /// The folder source takes no port options, so the SNI, tunneling and stats listeners are on the compiled defaults
    /// (<see cref="Model.SeedSettings"/>); only node ports come from the manifests.
    /// </summary>
    public static readonly int[] FixedListenerPorts = [6443, 8088, 8002];

    public static string ExampleFolder => Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed");

    public static string BootstrapFile => Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/envoy-ads.yaml");

    /// <summary>
    /// Copies the aws-seed example without the other tenants' Services (their node ports would be bound too) and gives
    /// tenant k7x2m9p4qz one Service exposed by SNI, tunneling and a node port, whose only endpoint is the test's
    /// upstream. The tenant's list gains 127.0.0.2/32 (127.0.0.3 stays off it); tunnels are capped at
    /// <paramref name="maxConnectionDuration"/> so a narrowing reaches a live tunnel quickly.
    /// </summary>
    public static void PrepareFolder(string folder, int upstreamPort, int nodePort, string maxConnectionDuration)
    {
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { "seed.yaml", "clusters.yaml", "nodeport-proxy.yaml" })
        {
            File.Copy(Path.Combine(ExampleFolder, name), Path.Combine(folder, name));
        }
        Edit(Path.Combine(folder, "clusters.yaml"), "    - 203.0.113.0/24\n", "    - 127.0.0.2/32\n    - 203.0.113.0/24\n");
        Edit(Path.Combine(folder, "seed.yaml"), "    nodeport-proxy.k8s.io/cloud-provider: aws\n",
            $"    nodeport-proxy.k8s.io/cloud-provider: aws\n    nodeport-proxy.k8s.io/max-connection-duration: '{maxConnectionDuration}'\n");
        File.WriteAllText(Path.Combine(folder, $"tenant-{Tenant}.yaml"), $"""
            apiVersion: v1
            kind: Service
            metadata:
              name: apiserver-external
              namespace: cluster-{Tenant}
              creationTimestamp: "2024-03-01T10:00:00Z"
              annotations:
                nodeport-proxy.k8s.io/expose: 'SNI,Tunneling,NodePort'
                nodeport-proxy.k8s.io/port-mapping: '{"{"}"secure":"{Hostname}"{"}"}'
            spec:
              type: NodePort
              ports:
              - name: secure
                port: 443
                targetPort: {upstreamPort}
                protocol: TCP
                nodePort: {nodePort}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: apiserver-external-e2e
              namespace: cluster-{Tenant}
              labels:
                kubernetes.io/service-name: apiserver-external
            addressType: IPv4
            ports:
            - name: secure
              port: {upstreamPort}
              protocol: TCP
            endpoints:
            - addresses: ["127.0.0.1"]
              conditions: {"{"}ready: true{"}"}

            """);
    }

    /// <summary>The narrowing: 127.0.0.2 leaves the tenant's list.</summary>
    public static void Narrow(string folder) => Edit(Path.Combine(folder, "clusters.yaml"), "    - 127.0.0.2/32\n", "");

    /// <summary>
    /// The shipped ADS bootstrap with only what a test must change: the xDS cluster's port (the control plane's
    /// bound port) and the admin port. Everything else (node, ADS settings, keepalives) is as shipped.
    /// </summary>
    public static string RewriteBootstrap(string yaml, int xdsPort, int adminPort)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var admin = Map(Map(Map(root, "admin"), "address"), "socket_address");
        admin.Children[new YamlScalarNode("port_value")] = new YamlScalarNode(adminPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var clusters = (YamlSequenceNode)Map(root, "static_resources").Children[new YamlScalarNode("clusters")];
        var xds = clusters.Children.Cast<YamlMappingNode>().Single(c => ((YamlScalarNode)c.Children[new YamlScalarNode("name")]).Value == "xds_cluster");
        var endpoint = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)Map(xds, "load_assignment")
            .Children[new YamlScalarNode("endpoints")]).Children.Single()).Children[new YamlScalarNode("lb_endpoints")]).Children.Single();
        var address = Map(Map(Map(endpoint, "endpoint"), "address"), "socket_address");
        address.Children[new YamlScalarNode("port_value")] = new YamlScalarNode(xdsPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var writer = new StringWriter();
        stream.Save(writer, assignAnchors: false);
        return writer.ToString();

        static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node.Children[new YamlScalarNode(key)];
    }

    /// <summary>A port free on all addresses now (the kernel's pick, released at once).</summary>
    public static int FreePort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>Null when the port can be bound on 0.0.0.0 (as Envoy's listeners are), else why not.</summary>
    public static string? PortBusy(int port)
    {
        try
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Any, port));
            return null;
        }
        catch (SocketException e)
        {
            return $"port {port} is in use ({e.SocketErrorCode})";
        }
    }

    /// <summary>A TCP connection to 127.0.0.1:<paramref name="port"/> from <paramref name="source"/> (its address as Envoy sees it).</summary>
    public static async Task<Socket> ConnectFrom(IPAddress source, int port, CancellationToken token)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void Edit(string file, string from, string to)
    {
        var text = File.ReadAllText(file).ReplaceLineEndings("\n");
        if (!text.Contains(from, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{file} no longer contains '{from.Trim()}': the e2e test's edit of the example needs updating");
        }
        File.WriteAllText(file, text.Replace(from, to, StringComparison.Ordinal));
    }
}

/// <summary>
/// The tenant's endpoint: accepts on 127.0.0.1, speaks TLS (self-signed) when the first byte is a TLS record and plain
/// TCP otherwise, records the first line each connection sends and echoes everything back. What it recorded is what
/// reached the upstream side.
/// </summary>
public sealed class LoopbackUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly X509Certificate2 _certificate = SelfSigned();
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;
    private int _accepted;

    public LoopbackUpstream()
    {
        _listener.Start();
        _accepting = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>The first line of every connection, TLS or not, in arrival order.</summary>
    public IReadOnlyCollection<string> Lines => _lines;

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            lock (_connections)
            {
                _connections.Add(Serve(socket));
            }
        }
    }

    private async Task Serve(Socket socket)
    {
        using var _ = socket;
        try
        {
            var first = new byte[1];
            if (await socket.ReceiveAsync(first, SocketFlags.Peek, _stop.Token) == 0)
            {
                return;
            }
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (first[0] == 0x16)
            {
                var tls = new SslStream(stream);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                stream = tls;
            }
            await using (stream)
            {
                var line = new List<byte>();
                var buffer = new byte[4096];
                var recorded = false;
                while (true)
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }
                    if (!recorded)
                    {
                        line.AddRange(buffer.AsSpan(0, read));
                        if (line.IndexOf((byte)'\n') is var end and >= 0)
                        {
                            _lines.Enqueue(Encoding.ASCII.GetString(line.ToArray(), 0, end));
                            recorded = true;
                        }
                    }
                    await stream.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                }
            }
        }
        catch (Exception)
        {
            // A connection Envoy closes (drain, denial) ends here; what matters is what was recorded before.
        }
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={E2ESetup.Hostname}", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }
        await Task.WhenAll(connections);
        _certificate.Dispose();
        _stop.Dispose();
    }
}

/// <summary>
/// The smallest HTTP/2 client that opens one CONNECT tunnel (stream 1) over cleartext, as a konnectivity agent or
/// the KKP tunneling agent does: no HPACK dynamic table on the request, and only the response's <c>:status</c> read.
/// </summary>
public sealed class H2Tunnel : IAsyncDisposable
{
    private const byte Data = 0, Headers = 1, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7;
    private const byte EndStream = 0x1, EndHeaders = 0x4, Ack = 0x1;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _write = new(1, 1);

    private H2Tunnel(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>The response's <c>:status</c> (or why there was none).</summary>
    public string Status { get; private set; } = "none";

    /// <summary>Completes when the tunnel ends (END_STREAM, RST_STREAM, GOAWAY, or the connection closing).</summary>
    public Task Ended => _ended.Task;

    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _headers = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<byte> _received = new();
    private Task _reading = Task.CompletedTask;

    /// <summary>Bytes of the tunnel received so far.</summary>
    public string Received => Encoding.ASCII.GetString([.. _received]);

    public static async Task<H2Tunnel> Open(IPAddress source, int port, string authority, CancellationToken token)
    {
        var tunnel = new H2Tunnel(await E2ESetup.ConnectFrom(source, port, token));
        await tunnel._stream.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), token);
        await tunnel.Frame(Settings, 0, 0, [], token);
        var block = new List<byte>();
        Literal(block, 2, "CONNECT"); // static table 2 = :method
        Literal(block, 1, authority); // static table 1 = :authority
        await tunnel.Frame(Headers, EndHeaders, 1, [.. block], token);
        tunnel._reading = tunnel.ReadLoop();
        tunnel.Status = await tunnel._headers.Task.WaitAsync(token);
        return tunnel;
    }

    public Task Send(string text, CancellationToken token) => Frame(Data, 0, 1, Encoding.ASCII.GetBytes(text), token);

    private async Task ReadLoop()
    {
        try
        {
            var header = new byte[9];
            while (true)
            {
                await _stream.ReadExactlyAsync(header);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var (type, flags) = (header[3], header[4]);
                var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7fffffff;
                var payload = new byte[length];
                await _stream.ReadExactlyAsync(payload);
                switch (type)
                {
                    case Settings when (flags & Ack) == 0:
                        await Frame(Settings, Ack, 0, [], CancellationToken.None);
                        break;
                    case Ping when (flags & Ack) == 0:
                        await Frame(Ping, Ack, 0, payload, CancellationToken.None);
                        break;
                    case Headers when streamId == 1:
                        _headers.TrySetResult(ReadStatus(payload, flags));
                        break;
                    case Data when streamId == 1:
                        foreach (var b in payload)
                        {
                            _received.Enqueue(b);
                        }
                        break;
                    case RstStream when streamId == 1:
                        _headers.TrySetResult("reset");
                        _ended.TrySetResult();
                        return;
                    case GoAway:
                        // Error code and debug text: why the peer refused, for the test's message.
                        _headers.TrySetResult($"goaway (error {BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4))}: {Encoding.ASCII.GetString(payload, 8, payload.Length - 8)})");
                        _ended.TrySetResult();
                        return;
                }
                if (streamId == 1 && (type == Data || type == Headers) && (flags & EndStream) != 0)
                {
                    _ended.TrySetResult();
                    return;
                }
            }
        }
        catch (Exception)
        {
            _headers.TrySetResult("connection closed");
            _ended.TrySetResult();
        }
    }

    /// <summary>The first header field of a response, which Envoy's codec sends first: <c>:status</c>.</summary>
    private static string ReadStatus(byte[] block, byte flags)
    {
        var i = 0;
        if ((flags & 0x8) != 0)
        {
            i += 1; // PADDED: pad length byte
        }
        if ((flags & 0x20) != 0)
        {
            i += 5; // PRIORITY
        }
        while (i < block.Length && (block[i] & 0xE0) == 0x20)
        {
            i++; // dynamic table size update (a one-byte one is all a fresh encoder sends)
        }
        if (i >= block.Length)
        {
            return "empty header block";
        }
        // Static table entries 8..14 are :status 200, 204, 206, 304, 400, 404, 500.
        string[] indexed = ["200", "204", "206", "304", "400", "404", "500"];
        if (block[i] is >= 0x88 and <= 0x8e)
        {
            return indexed[block[i] - 0x88];
        }
        // A literal with an indexed :status name: its value is plain ASCII unless Huffman-coded.
        var nameIndex = (block[i] & 0xC0) == 0x40 ? block[i] & 0x3F : block[i] & 0x0F;
        if (nameIndex is >= 8 and <= 14 && i + 1 < block.Length)
        {
            var length = block[i + 1] & 0x7F;
            return (block[i + 1] & 0x80) != 0 ? "not 200 (Huffman-coded)" : Encoding.ASCII.GetString(block, i + 2, Math.Min(length, block.Length - i - 2));
        }
        return $"unreadable (first byte 0x{block[i]:x2})";
    }

    private static void Literal(List<byte> block, int nameIndex, string value)
    {
        block.Add((byte)nameIndex); // literal without indexing, indexed name (4-bit prefix)
        block.Add((byte)value.Length); // not Huffman, < 127
        block.AddRange(Encoding.ASCII.GetBytes(value));
    }

    private async Task Frame(byte type, byte flags, int streamId, byte[] payload, CancellationToken token)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        await _write.WaitAsync(token);
        try
        {
            await _stream.WriteAsync(frame, token);
        }
        finally
        {
            _write.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Shutdown(SocketShutdown.Both);
        await _stream.DisposeAsync();
        await _reading;
        _write.Dispose();
    }
}
