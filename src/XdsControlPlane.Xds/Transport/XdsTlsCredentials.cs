using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace XdsControlPlane.Xds.Transport;

/// <summary>
/// The server certificate and client CA bundle of the xDS listener, read from PEM files and read again when the
/// files change, so a certificate renewed on disk (cert-manager, a Secret update) is presented to new connections
/// without a restart; open connections keep the certificate they started with.
/// </summary>
/// <remarks>
/// The files are compared by content (not by modification time, which a Kubernetes Secret volume's symlink swap
/// does not reliably change), at most once per <see cref="CheckInterval"/>, on a handshake: handshakes are rare
/// (one per Envoy connection), so there is no watcher to keep. A change that does not load (a key written before
/// its certificate) keeps the previous pair in use and is logged; the next check tries again.
/// Client certificates are validated against the CA bundle alone (<see cref="X509ChainTrustMode.CustomRootTrust"/>),
/// never against the system store, and must carry the clientAuth extended key usage. Revocation is not checked: a
/// private CA for Envoys has no CRL or OCSP responder; short-lived certificates are the remedy (docs/security.md).
/// </remarks>
public sealed class XdsTlsCredentials
{
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private readonly XdsTlsFiles _files;
    private readonly ILogger _logger;
    private readonly XdsMetrics? _metrics;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private Loaded _current;
    private long _checkedAt;
    private byte[][]? _failedContent;

    public XdsTlsCredentials(XdsTlsFiles files, ILogger? logger = null, XdsMetrics? metrics = null, TimeProvider? time = null)
    {
        _files = files;
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
        _current = Load(ReadAll(files));
        _checkedAt = _time.GetTimestamp();
        XdsLog.TlsFilesReloaded(_logger, _current.Leaf.Subject, _current.Leaf.NotAfter.ToUniversalTime(), _current.ClientCas.Count);
    }

    /// <summary>How often a handshake may look at the files again. Zero: on every handshake.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The server certificate presented to new connections now.</summary>
    public X509Certificate2 ServerCertificate => Refresh().Leaf;

    /// <summary>Null when the files load; otherwise why not (for a clear error line at start).</summary>
    public static string? Check(XdsTlsFiles files)
    {
        try
        {
            Load(ReadAll(files));
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException or InvalidDataException)
        {
            return ex.Message;
        }
    }

    /// <summary>The TLS options of one new connection: the current certificate, a client certificate required.</summary>
    public SslServerAuthenticationOptions OptionsFor(string remote)
    {
        var current = Refresh();
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            VerificationTimeIgnored = false,
        };
        policy.CustomTrustStore.AddRange(current.ClientCas);
        policy.ApplicationPolicy.Add(ClientAuth);
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = current.Context,
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = policy,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ApplicationProtocols = [SslApplicationProtocol.Http2],
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }
                _metrics?.Refused(XdsRefusal.TlsHandshake);
                XdsLog.TlsHandshakeRefused(_logger, remote, Describe(certificate, chain, errors));
                return false;
            },
        };
    }

    private static string Describe(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "no client certificate";
        }
        var statuses = chain?.ChainStatus.Select(s => s.Status.ToString()).Distinct() ?? [];
        return $"client certificate '{certificate.Subject}' not accepted ({errors}: {string.Join(", ", statuses)})";
    }

    private Loaded Refresh()
    {
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(Volatile.Read(ref _checkedAt), now) < CheckInterval)
        {
            return Volatile.Read(ref _current);
        }
        lock (_gate)
        {
            _checkedAt = now;
            byte[][] content;
            try
            {
                content = ReadAll(_files);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                XdsLog.TlsFilesUnreadable(_logger, ex.Message);
                return _current;
            }
            if (Same(content, _current.Content) || (_failedContent is not null && Same(content, _failedContent)))
            {
                return _current;
            }
            try
            {
                var loaded = Load(content);
                Volatile.Write(ref _current, loaded);
                _failedContent = null;
                XdsLog.TlsFilesReloaded(_logger, loaded.Leaf.Subject, loaded.Leaf.NotAfter.ToUniversalTime(), loaded.ClientCas.Count);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException or InvalidDataException)
            {
                // Logged once per content seen, not per handshake.
                _failedContent = content;
                XdsLog.TlsFilesUnreadable(_logger, ex.Message);
            }
            return _current;
        }
    }

    private static bool Same(byte[][] a, byte[][] b) =>
        a.Length == b.Length && a.Zip(b).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));

    private static byte[][] ReadAll(XdsTlsFiles files) =>
        [File.ReadAllBytes(files.CertFile), File.ReadAllBytes(files.KeyFile), File.ReadAllBytes(files.ClientCaFile)];

    private static Loaded Load(byte[][] content)
    {
        var certPem = System.Text.Encoding.UTF8.GetString(content[0]);
        var keyPem = System.Text.Encoding.UTF8.GetString(content[1]);
        var caPem = System.Text.Encoding.UTF8.GetString(content[2]);
        var leaf = X509Certificate2.CreateFromPem(certPem, keyPem);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(certPem);
        var intermediates = new X509Certificate2Collection();
        foreach (var certificate in chain.Skip(1))
        {
            intermediates.Add(certificate);
        }
        var cas = new X509Certificate2Collection();
        cas.ImportFromPem(caPem);
        if (cas.Count == 0)
        {
            throw new InvalidDataException("the client CA file holds no PEM certificate");
        }
        var context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
        return new Loaded(content, leaf, context, cas);
    }

    private sealed record Loaded(byte[][] Content, X509Certificate2 Leaf, SslStreamCertificateContext Context, X509Certificate2Collection ClientCas);
}
