using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;

namespace XdsControlPlane.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        // The idle-stream memory benchmark runs its clients in a child process of this executable.
        Xds.IdleClientProcess.EnterIfClient(args);
        // `--probe <name> <tenants>`: one suite's breakdown alone, without BenchmarkDotNet (minutes instead of tens).
        if (args is ["--probe", var probe, var tenants])
        {
            KubernetesWatch.KubernetesProbes.Run(probe, int.Parse(tenants, System.Globalization.CultureInfo.InvariantCulture));
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new DefaultCoreConfig());
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
