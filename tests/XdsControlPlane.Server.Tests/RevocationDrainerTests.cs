using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// A drain owed by a narrowing is dated and aged by one clock, the pipeline's, under its lock; the host gives the
/// pipeline and the drainer the same <see cref="TimeProvider"/>.
/// </summary>
public sealed class RevocationDrainerTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"xds-drain-{Guid.NewGuid():N}");
    private readonly ManualClock _clock = new();

    public RevocationDrainerTests()
    {
        Directory.CreateDirectory(_folder);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed")))
        {
            File.Copy(file, Path.Combine(_folder, Path.GetFileName(file)));
        }
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ADrainIsOwedSinceTheNarrowingByThePipelinesClock_AndPaidOnceThatOld()
    {
        var pipeline = Pipeline(TimeSpan.FromSeconds(5));
        Assert.True(pipeline.Apply(Input()).Applied);
        Assert.Equal(_clock.GetUtcNow(), pipeline.LastApplied);
        Assert.Null(pipeline.DrainOwedSince);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Narrow();
        Assert.True(pipeline.Apply(Input()).Applied);
        Assert.Equal(_clock.GetUtcNow(), pipeline.DrainOwedSince);

        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Null(pipeline.DrainRevocationsOwedLongerThan(TimeSpan.FromSeconds(5)));
        Assert.NotEmpty(pipeline.Current!.OwedRevocations);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(pipeline.DrainRevocationsOwedLongerThan(TimeSpan.FromSeconds(5))!.Applied);
        Assert.Null(pipeline.DrainOwedSince);
        Assert.Empty(pipeline.Current!.OwedRevocations);
        Assert.Equal(_clock.GetUtcNow(), pipeline.LastApplied);
    }

    [Fact]
    public async Task TheDrainerPaysOnceTheDrainIsThatOldByTheClockItShares()
    {
        var pipeline = Pipeline(TimeSpan.FromMilliseconds(200));
        Assert.True(pipeline.Apply(Input()).Applied);
        Narrow();
        Assert.True(pipeline.Apply(Input()).Applied);
        using var drainer = new RevocationDrainer(pipeline, _clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<RevocationDrainer>.Instance);
        await drainer.StartAsync(CancellationToken.None);
        try
        {
            // The drainer ticks every 50 ms of real time (this clock makes no timers of its own); the clock stands still.
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            Assert.NotNull(pipeline.DrainOwedSince);
            _clock.Advance(TimeSpan.FromMilliseconds(200));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (pipeline.DrainOwedSince is not null)
            {
                Assert.True(DateTime.UtcNow < deadline, "the drain owed was not paid");
                await Task.Delay(20);
            }
            Assert.Empty(pipeline.Current!.OwedRevocations);
        }
        finally
        {
            await drainer.StopAsync(CancellationToken.None);
        }
    }

    private ConfigPipeline Pipeline(TimeSpan delay) =>
        new(SnapshotConsistency.Check, NullLogger<ConfigPipeline>.Instance, _clock) { RevocationDelay = delay };

    private PipelineInput Input()
    {
        var load = new FolderSource(_folder, NullLogger<FolderSource>.Instance).Load();
        var result = InventoryTranslator.Translate(load.Inventory!);
        return new PipelineInput(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics);
    }

    /// <summary>One tenant's list loses half a range: a narrowing, which owes a drain (the example seed delivers RBAC by ECDS).</summary>
    private void Narrow()
    {
        var clusters = Path.Combine(_folder, "clusters.yaml");
        var text = File.ReadAllText(clusters);
        Assert.Contains("- 203.0.113.0/24", text, StringComparison.Ordinal);
        File.WriteAllText(clusters, text.Replace("- 203.0.113.0/24", "- 203.0.113.0/25", StringComparison.Ordinal));
    }

    /// <summary>A clock that moves only when the test says so; timers are the system's.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _utcTicks = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _utcTicks), TimeSpan.Zero);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _utcTicks, by.Ticks);
    }
}
