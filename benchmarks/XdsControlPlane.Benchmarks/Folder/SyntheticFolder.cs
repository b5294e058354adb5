using System.Globalization;
using System.Text;

namespace XdsControlPlane.Benchmarks.Folder;

/// <summary>
/// Writes a large KKP seed as a folder of manifests, the shape of the compiler benchmarks' <c>SyntheticSeed</c> as the
/// folder source reads it: <c>seed.yaml</c> and one file per tenant holding its Cluster, Services and EndpointSlices.
/// 60% Tunneling tenants (two Services exposed by SNI), 40% NodePort tenants (three node ports), each with an
/// allowlist of <c>rangesPerTenant</c> ranges, a quarter IPv6. 10,000 tenants are about 25 MB and 58,000 objects.
/// </summary>
/// <remarks>Also compiled into the Sources tests (linked), which compare the old and new readers on its output.</remarks>
public static class SyntheticFolder
{
    public static string TenantFile(int i) => $"tenant-{TenantId(i)}.yaml";

    public static string TenantId(int i) => $"t{i:D6}";

    /// <summary>Writes the folder; files are dated an hour back, as in a folder that was not just written.</summary>
    public static void Write(string folder, int tenants, int rangesPerTenant = 20, int seed = 42)
    {
        Directory.CreateDirectory(folder);
        var old = DateTime.UtcNow.AddHours(-1);
        var seedFile = Path.Combine(folder, "seed.yaml");
        File.WriteAllText(seedFile, SeedManifest());
        File.SetLastWriteTimeUtc(seedFile, old);
        var random = new Random(seed);
        for (var i = 0; i < tenants; i++)
        {
            var path = Path.Combine(folder, TenantFile(i));
            File.WriteAllText(path, TenantManifests(i, RandomRanges(random, rangesPerTenant)));
            File.SetLastWriteTimeUtc(path, old);
        }
    }

    public static string SeedManifest() =>
        """
        apiVersion: kubermatic.k8c.io/v1
        kind: Seed
        metadata:
          name: bench
          namespace: kubermatic
          annotations:
            nodeport-proxy.k8s.io/cloud-provider: aws
        spec:
          country: DE
          location: Frankfurt
          datacenters:
            aws-eu-central-1a:
              country: DE
              spec:
                aws: {region: eu-central-1}
          defaultAPIServerAllowedIPRanges:
          - 192.0.2.0/28
          - 2001:db8:ff00::/48

        """;

    /// <summary>One tenant's file: its Cluster, then each exposed Service followed by its EndpointSlice.</summary>
    public static string TenantManifests(int i, IReadOnlyList<string> ranges)
    {
        var id = TenantId(i);
        var ns = $"cluster-{id}";
        var tunneling = i % 5 < 3;
        var created = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(i).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var b = new StringBuilder(3000);
        b.Append(CultureInfo.InvariantCulture, $"""
            # Tenant {id}: {(tunneling ? "Tunneling" : "NodePort")}
            apiVersion: kubermatic.k8c.io/v1
            kind: Cluster
            metadata:
              name: {id}
              labels:
                project-id: p{i % 97:D4}
              annotations:
                nodeport-proxy.k8s.io/allowlist-mode: enforce
            spec:
              humanReadableName: "tenant {id}"
              exposeStrategy: {(tunneling ? "Tunneling" : "NodePort")}
              version: 1.31.4
              cloud:
                dc: aws-eu-central-1a
                providerName: aws
                aws:
                  credentialsReference: {"{"}name: credential-aws-{id}, namespace: kubermatic{"}"}
              clusterNetwork:
                pods: {"{"}cidrBlocks: [172.25.0.0/16]{"}"}
                services: {"{"}cidrBlocks: [10.240.16.0/20]{"}"}
              apiServerAllowedIPRanges:
                cidrBlocks:

            """);
        foreach (var range in ranges)
        {
            b.Append("    - ").Append(range).Append('\n');
        }
        (string Name, int Port, string? Sni)[] services = tunneling
            ? [("apiserver-external", 6443, $"{id}.seed.example.com"), ("konnectivity-server", 8132, $"konnectivity-server.{id}.seed.example.com")]
            : [("apiserver-external", 6443, null), ("konnectivity-server", 8132, null), ("openvpn-server", 1194, null)];
        for (var s = 0; s < services.Length; s++)
        {
            var (name, port, sni) = services[s];
            var expose = sni is null ? "'NodePort'" : "'SNI,Tunneling'";
            var mapping = sni is null ? "" : $"\n    nodeport-proxy.k8s.io/port-mapping: '{{\"secure\":\"{sni}\"}}'";
            b.Append(CultureInfo.InvariantCulture, $"""
                ---
                apiVersion: v1
                kind: Service
                metadata:
                  name: {name}
                  namespace: {ns}
                  creationTimestamp: "{created}"
                  annotations:
                    nodeport-proxy.k8s.io/expose: {expose}{mapping}
                spec:
                  type: NodePort
                  ports:
                  - name: secure
                    port: {port}
                    targetPort: {port}
                    protocol: TCP
                    nodePort: {30000 + s + i * 3 % 2700}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: {name}-{i % 100000:D5}
                  namespace: {ns}
                  labels:
                    kubernetes.io/service-name: {name}
                addressType: IPv4
                ports:
                - name: secure
                  port: {port}
                  protocol: TCP
                endpoints:

                """);
            for (var k = 0; k < 2 + i % 2; k++)
            {
                b.Append(CultureInfo.InvariantCulture, $"- addresses: [\"172.{16 + i % 16}.{i / 256 % 256}.{10 * (s + 1) + k}\"]\n  conditions: {{ready: {(k < 2 ? "true" : "false")}}}\n");
            }
        }
        return b.ToString();
    }

    /// <summary>Random allowlist entries in canonical form, every fourth IPv6.</summary>
    public static List<string> RandomRanges(Random random, int count)
    {
        var ranges = new List<string>(count);
        for (var k = 0; k < count; k++)
        {
            if (k % 4 == 3)
            {
                var prefix = random.Next(40, 65);
                var high = (0x2001_0db8UL << 32 | (uint)random.Next()) & (ulong.MaxValue << (64 - prefix));
                var bytes = new byte[16];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, high);
                var address = new System.Net.IPAddress(bytes);
                ranges.Add($"{address}/{prefix}");
            }
            else
            {
                var prefix = random.Next(16, 33);
                var address = ((uint)random.Next() << 1) & (uint.MaxValue << (32 - prefix));
                ranges.Add($"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}/{prefix}");
            }
        }
        return ranges;
    }
}
