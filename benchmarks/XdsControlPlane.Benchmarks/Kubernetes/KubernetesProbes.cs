namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>The Kubernetes suites' breakdowns, run alone (<c>--probe k8s-start|k8s-burst|k8s-e2e &lt;tenants&gt;</c>).</summary>
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
            default:
                throw new ArgumentException($"unknown probe {probe}: k8s-start", nameof(probe));
        }
    }
}
