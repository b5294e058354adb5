namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>The Kubernetes suites' breakdowns, run alone (<c>--probe k8s-start|k8s-list|k8s-burst|k8s-e2e &lt;tenants&gt;</c>).</summary>
internal static class KubernetesProbes
{
    public static void Run(string probe, int tenants)
    {
        switch (probe)
        {
            case "k8s-start":
                var start = new KubernetesStartupBenchmarks { Tenants = tenants };
                start.SetupPaged();
                start.Cleanup();
                break;
            case "k8s-list":
                ListProbe.Run(tenants);
                break;
            case "k8s-burst":
                var burst = new KubernetesBurstBenchmarks { Tenants = tenants };
                burst.SetupIncremental();
                for (var n = 0; n < 3; n++)
                {
                    burst.Prepare();
                    burst.Incremental().GetAwaiter().GetResult();
                }
                burst.Cleanup();
                break;
            case "k8s-e2e":
                var e2e = new KubernetesEndToEndBenchmarks { Tenants = tenants, Change = "narrow" };
                e2e.SetupIncremental();
                for (var n = 0; n < 3; n++)
                {
                    e2e.BeforeChange();
                    e2e.Incremental().GetAwaiter().GetResult();
                }
                e2e.Cleanup();
                break;
            default:
                throw new ArgumentException($"unknown probe {probe}: k8s-start, k8s-list, k8s-burst, k8s-e2e", nameof(probe));
        }
    }
}
