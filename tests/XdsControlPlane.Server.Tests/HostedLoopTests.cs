using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Folder;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// A hosted loop that meets an exception logs it, keeps the last good snapshot and goes on: under the host's
/// default <c>BackgroundServiceExceptionBehavior.StopHost</c> an escaped exception would stop every Envoy's config.
/// </summary>
public sealed class HostedLoopTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"xds-loop-{Guid.NewGuid():N}");

    public HostedLoopTests()
    {
        Directory.CreateDirectory(_folder);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed")))
        {
            File.Copy(file, Path.Combine(_folder, Path.GetFileName(file)));
        }
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task ADanglingManifestLinkNeitherStopsTheHostNorBlocksTheNextEdit()
    {
        var logs = new CapturingLoggerProvider();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(sp => new FolderSource(_folder, sp.GetRequiredService<ILogger<FolderSource>>()));
        builder.Services.AddSingleton(sp => new ConfigPipeline(SnapshotConsistency.Check, sp.GetRequiredService<ILogger<ConfigPipeline>>()));
        builder.Services.AddHostedService<FolderSourceService>();
        using var host = builder.Build();
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var pipeline = host.Services.GetRequiredService<ConfigPipeline>();
        await host.StartAsync();
        try
        {
            var good = await Eventually(() => pipeline.Current);

            // A dangling link (a ConfigMap key removed under a mounted volume leaves one for a moment): listed as a
            // file, unreadable. The folder source used to throw FileNotFoundException on it, which stopped the host; it
            // now reads it as absent, and the loop around it catches whatever a read still throws. Either way the host
            // keeps serving and the next edit, made while the link is still there, is applied.
            var link = Path.Combine(_folder, "zz-gone.yaml");
            File.CreateSymbolicLink(link, Path.Combine(_folder, "..data", "zz-gone.yaml"));
            var clusters = Path.Combine(_folder, "clusters.yaml");
            var narrowed = (await File.ReadAllTextAsync(clusters)).Replace("- 203.0.113.0/24", "- 203.0.113.0/25", StringComparison.Ordinal);
            // The folder's watcher starts after the first apply: an edit made before it watches is not seen. The same
            // text is written again each second until it is applied (the reader compares content, not events).
            CompiledSeed? next = null;
            var until = DateTime.UtcNow + Deadline;
            while (next is null)
            {
                Assert.True(DateTime.UtcNow < until, "the edit made beside the dangling link was not applied in time");
                await File.WriteAllTextAsync(clusters, narrowed);
                for (var i = 0; i < 20 && next is null; i++)
                {
                    await Task.Delay(50);
                    next = pipeline.Current is { } current && !ReferenceEquals(current, good)
                        && current.GetReport("k7x2m9p4qz")!.EffectiveRanges.Contains("203.0.113.0/25") ? current : null;
                }
            }
            Assert.False(lifetime.ApplicationStopping.IsCancellationRequested);
            Assert.DoesNotContain("203.0.113.0/24", next.GetReport("k7x2m9p4qz")!.EffectiveRanges);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static async Task<T> Eventually<T>(Func<T?> probe)
        where T : class
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            if (probe() is { } value)
            {
                return value;
            }
            Assert.True(DateTime.UtcNow < until, "the expected state was not reached in time");
            await Task.Delay(50);
        }
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentBag<string> Events { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(Events);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentBag<string> events) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                events.Add(eventId.Name ?? "");
        }
    }
}
