using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;

namespace XdsControlPlane.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        // The idle-stream memory benchmark runs its clients in a child process of this executable.
        Xds.IdleClientProcess.EnterIfClient(args);
        // The real host's memory (issue 13, item 4): child processes measured by the kernel, not BenchmarkDotNet.
        if (args is ["host-memory", .. var rest])
        {
            return HostMemory.HostMemoryBench.RunAsync(rest).GetAwaiter().GetResult();
        }
        // `--probe <name> <tenants>`: one suite's breakdown alone, without BenchmarkDotNet (minutes instead of tens).
        if (args is ["--probe", var probe, var tenants])
        {
            KubernetesWatch.KubernetesProbes.Run(probe, int.Parse(tenants, System.Globalization.CultureInfo.InvariantCulture));
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new DefaultCoreConfig());
        return 0;
    }
}

/// <summary>
/// The one config every benchmark here runs with. No job is fixed, so `--job short` (as `make bench`
/// passes) or any other command-line job applies unchanged.
/// </summary>
public sealed class DefaultCoreConfig : ManualConfig
{
    public DefaultCoreConfig()
    {
        Add(DefaultConfig.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
