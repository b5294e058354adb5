using k8s.Models;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;
using XdsControlPlane.Sources.Tests.KubernetesWatch;

namespace XdsControlPlane.Sources.Tests.Folder;

/// <summary>
/// The folder source re-reads only what changed: each test reads a folder, changes it, reads again and checks
/// both what was read again (the counts) and that the inventory is what a fresh read of the folder gives.
/// </summary>
public sealed class FolderSourceChangeTests : IDisposable
{
    private const int Tenants = 10;
    private static readonly DateTime LongAgo = DateTime.UtcNow.AddHours(-1);

    private readonly TempFolder _folder = new();
    private readonly RecordingLogger _log = new();
    private readonly FolderSource _source;

    public FolderSourceChangeTests()
    {
        SyntheticFolder.Write(_folder.Path, Tenants); // dated an hour back
        _source = new FolderSource(_folder.Path, new TypedLogger(_log));
        var first = _source.Load();
        Assert.NotNull(first.Inventory);
        Assert.Equal(new FolderReadCounts(Tenants + 1, 0, 0, 0), first.Counts);
    }

    public void Dispose() => _folder.Dispose();

    private string TenantPath(int i) => Path.Combine(_folder.Path, SyntheticFolder.TenantFile(i));

    [Fact]
    public void NothingChanged_NoFileIsOpened_AndTheObjectsAreTheSameInstances()
    {
        var before = _source.Load().Inventory!;
        var again = _source.Load();

        Assert.Equal(new FolderReadCounts(0, 0, Tenants + 1, 0), again.Counts);
        Assert.Same(before.Clusters[3], again.Inventory!.Clusters[3]);
    }

    [Fact]
    public void EditedFile_IsTheOnlyOneParsed_AndItsObjectsChange()
    {
        var before = _source.Load().Inventory!;
        Write(TenantPath(3), SyntheticFolder.TenantManifests(3, ["203.0.113.0/24"]), LongAgo.AddMinutes(1));

        var after = _source.Load();

        Assert.Equal(new FolderReadCounts(1, 0, Tenants, 0), after.Counts);
        var cluster = after.Inventory!.Clusters.Single(c => c.Metadata.Name == SyntheticFolder.TenantId(3));
        Assert.Equal(["203.0.113.0/24"], cluster.Spec!.ApiServerAllowedIPRanges!.CidrBlocks!);
        Assert.Same(before.Clusters.Single(c => c.Metadata.Name == SyntheticFolder.TenantId(4)),
            after.Inventory.Clusters.Single(c => c.Metadata.Name == SyntheticFolder.TenantId(4)));
        AssertSameAsAFreshRead(after.Inventory);
    }

    [Fact]
    public void EditOfTheSameSizeWithinTheTimestampTick_IsStillSeen()
    {
        // Two writes with the same size and the same modification time: size and time cannot tell them apart, so
        // a file modified shortly before it was read is hashed again on the next read.
        var path = TenantPath(2);
        var text = File.ReadAllText(path);
        var now = DateTime.UtcNow;
        Write(path, text, now);
        Assert.Equal(0, _source.Load().Counts.Parsed); // same content, read again, not parsed
        var edited = text.Replace("exposeStrategy: Tunneling", "exposeStrategy: NodePorts", StringComparison.Ordinal);
        Assert.Equal(text.Length, edited.Length);
        Write(path, edited, now);

        var after = _source.Load();

        Assert.Equal(1, after.Counts.Parsed);
        Assert.Equal("NodePorts", after.Inventory!.Clusters.Single(c => c.Metadata.Name == SyntheticFolder.TenantId(2)).Spec!.ExposeStrategy);
    }

    [Fact]
    public void TouchedWithoutChange_IsReadAndHashed_ButNotParsed()
    {
        var before = _source.Load().Inventory!;
        File.SetLastWriteTimeUtc(TenantPath(5), LongAgo.AddMinutes(2));

        var after = _source.Load();

        Assert.Equal(new FolderReadCounts(0, 1, Tenants, 0), after.Counts);
        Assert.Same(before.Clusters.Single(c => c.Metadata.Name == SyntheticFolder.TenantId(5)),
            after.Inventory!.Clusters.Single(c => c.Metadata.Name == SyntheticFolder.TenantId(5)));
        // And the new time is remembered: the next read opens nothing.
        Assert.Equal(new FolderReadCounts(0, 0, Tenants + 1, 0), _source.Load().Counts);
    }

    [Fact]
    public void DeletedFile_DropsItsObjects()
    {
        File.Delete(TenantPath(7));

        var after = _source.Load();

        Assert.Equal(new FolderReadCounts(0, 0, Tenants, 1), after.Counts);
        Assert.DoesNotContain(after.Inventory!.Clusters, c => c.Metadata.Name == SyntheticFolder.TenantId(7));
        Assert.DoesNotContain(after.Inventory.Services, s => s.Metadata.NamespaceProperty == $"cluster-{SyntheticFolder.TenantId(7)}");
        Assert.DoesNotContain(after.Files, f => f.EndsWith(SyntheticFolder.TenantFile(7), StringComparison.Ordinal));
        Assert.Equal(Tenants - 1, after.Inventory.Clusters.Count);
        AssertSameAsAFreshRead(after.Inventory);
    }

    [Fact]
    public void AddedFile_IsParsedAndItsObjectsJoin()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_folder.Path, "more")).FullName;
        Write(Path.Combine(sub, SyntheticFolder.TenantFile(Tenants)), SyntheticFolder.TenantManifests(Tenants, ["198.51.100.0/24"]), LongAgo);

        var after = _source.Load();

        Assert.Equal(new FolderReadCounts(1, 0, Tenants + 1, 0), after.Counts);
        Assert.Equal(Tenants + 1, after.Inventory!.Clusters.Count);
        Assert.Contains(after.Inventory.Clusters, c => c.Metadata.Name == SyntheticFolder.TenantId(Tenants));
        AssertSameAsAFreshRead(after.Inventory);
    }

    [Fact]
    public void RenamedFile_IsReadUnderItsNewName_AndTheInventoryIsUnchanged()
    {
        var before = _source.Load().Inventory!;
        File.Move(TenantPath(1), Path.Combine(_folder.Path, "renamed.yml"));

        var after = _source.Load();

        Assert.Equal(new FolderReadCounts(1, 0, Tenants, 1), after.Counts);
        Assert.Contains(after.Files, f => f.EndsWith("renamed.yml", StringComparison.Ordinal));
        Assert.Equal(before.Clusters.Select(c => c.Metadata.Name).Order(), after.Inventory!.Clusters.Select(c => c.Metadata.Name).Order());
        AssertSameAsAFreshRead(after.Inventory);
    }

    [Fact]
    public void FileThatFailsToParse_KeepsNothingApplied_UntilItIsFixed()
    {
        var path = TenantPath(4);
        var good = File.ReadAllText(path);
        Write(path, good.Replace("kind: Cluster", "kind: Cluster\n  bad: [indentation", StringComparison.Ordinal), LongAgo.AddMinutes(3));

        var broken = _source.Load();

        Assert.Null(broken.Inventory); // the whole read is refused: the last good snapshot stays
        var diagnostic = Assert.Single(broken.Diagnostics);
        Assert.Equal("InvalidManifest", diagnostic.Code);
        Assert.Equal(SyntheticFolder.TenantFile(4), diagnostic.Object);
        Assert.Contains("line ", diagnostic.Message);
        Assert.Equal(1, broken.Counts.Parsed);

        // Unchanged, the broken file is not parsed again, and it is still reported.
        var still = _source.Load();
        Assert.Null(still.Inventory);
        Assert.Equal("InvalidManifest", Assert.Single(still.Diagnostics).Code);
        Assert.Equal(0, still.Counts.Parsed);

        Write(path, good, LongAgo.AddMinutes(4));
        var fixedRead = _source.Load();

        Assert.Equal(new FolderReadCounts(1, 0, Tenants, 0), fixedRead.Counts);
        Assert.Empty(fixedRead.Diagnostics);
        Assert.Equal(Tenants, fixedRead.Inventory!.Clusters.Count);
        AssertSameAsAFreshRead(fixedRead.Inventory);
    }

    [Fact]
    public void WrongFieldType_NamesTheFileTheObjectAndTheField()
    {
        var path = TenantPath(6);
        Write(path, File.ReadAllText(path).Replace("nodePort: ", "nodePort: x", StringComparison.Ordinal), LongAgo.AddMinutes(3));

        var read = _source.Load();

        Assert.Null(read.Inventory);
        var diagnostic = Assert.Single(read.Diagnostics);
        Assert.Equal(SyntheticFolder.TenantFile(6), diagnostic.Object);
        Assert.Contains($"Service cluster-{SyntheticFolder.TenantId(6)}/apiserver-external", diagnostic.Message);
        Assert.Contains("spec.ports[0].nodePort", diagnostic.Message);
    }

    [Fact]
    public void LongRead_LogsItsProgress()
    {
        var log = new RecordingLogger();
        var source = new FolderSource(_folder.Path, new TypedLogger(log)) { ProgressInterval = TimeSpan.Zero };

        source.Load();

        var progress = log.Entries.Where(e => e.EventName == "FolderReadProgress").Select(e => e.Message).ToList();
        Assert.NotEmpty(progress);
        Assert.All(progress, m => Assert.Matches($@"^Reading .+: \d+/{Tenants + 1} files, \d+ objects so far$", m));
        // No line for a read that is quicker than the interval.
        Assert.Equal(0, _log.Count("FolderReadProgress"));
    }

    [Fact]
    public void NamedPaths_AreTheOnlyFilesLookedAt_AndACompleteReadFindsTheRest()
    {
        Write(TenantPath(3), SyntheticFolder.TenantManifests(3, ["203.0.113.0/24"]), LongAgo.AddMinutes(1));
        Write(TenantPath(4), SyntheticFolder.TenantManifests(4, ["198.51.100.0/24"]), LongAgo.AddMinutes(1));

        var named = _source.Load([TenantPath(3)]);

        Assert.Equal(new FolderReadCounts(1, 0, Tenants, 0), named.Counts);
        Assert.Equal(["203.0.113.0/24"], ClusterOf(named.Inventory!, 3).Spec!.ApiServerAllowedIPRanges!.CidrBlocks!);
        Assert.NotEqual(["198.51.100.0/24"], ClusterOf(named.Inventory!, 4).Spec!.ApiServerAllowedIPRanges!.CidrBlocks!); // not looked at
        Assert.All(named.Changes, c => Assert.StartsWith(SyntheticFolder.TenantFile(3) + "\0", c.Key, StringComparison.Ordinal));

        var complete = _source.Load(null);

        Assert.Equal(new FolderReadCounts(1, 0, Tenants, 0), complete.Counts);
        Assert.Equal(["198.51.100.0/24"], ClusterOf(complete.Inventory!, 4).Spec!.ApiServerAllowedIPRanges!.CidrBlocks!);
        AssertSameAsAFreshRead(complete.Inventory!);
    }

    [Fact]
    public void NamedPaths_DeletedFilesAndNewDirectories()
    {
        File.Delete(TenantPath(7));
        var deleted = _source.Load([TenantPath(7), Path.Combine(_folder.Path, "notes.txt")]);
        Assert.Equal(new FolderReadCounts(0, 0, Tenants, 1), deleted.Counts);
        Assert.DoesNotContain(deleted.Inventory!.Clusters, c => c.Metadata.Name == SyntheticFolder.TenantId(7));
        Assert.NotEmpty(deleted.Changes);
        Assert.All(deleted.Changes, c => Assert.Null(c.Object));

        // A directory moved in is named alone by the watcher: its files are found by a complete read.
        var sub = Path.Combine(_folder.Path, "more");
        Directory.CreateDirectory(sub);
        Write(Path.Combine(sub, SyntheticFolder.TenantFile(Tenants)), SyntheticFolder.TenantManifests(Tenants, ["198.51.100.0/24"]), LongAgo);
        var moved = _source.Load([sub]);
        Assert.Contains(moved.Inventory!.Clusters, c => c.Metadata.Name == SyntheticFolder.TenantId(Tenants));
        AssertSameAsAFreshRead(moved.Inventory!);

        // A directory gone: named alone, it is not a file we read, so a complete read finds what went with it.
        Directory.Delete(sub, recursive: true);
        var gone = _source.Load([sub]);
        Assert.DoesNotContain(gone.Inventory!.Clusters, c => c.Metadata.Name == SyntheticFolder.TenantId(Tenants));
        AssertSameAsAFreshRead(gone.Inventory!);
    }

    [Fact]
    public void Changes_FedToTheIncrementalTranslator_GiveTheFullTranslationOfEachRead()
    {
        var source = new FolderSource(_folder.Path, new TypedLogger(new RecordingLogger()));
        var translator = new IncrementalTranslator();
        void Step(FolderLoadResult load)
        {
            Assert.True(load.Succeeded);
            translator.Apply(load.Changes);
            var incremental = translator.Translate();
            var full = InventoryTranslator.Translate(load.Inventory!);
            Assert.Equal(full.Tenants, incremental.Tenants);
            Assert.Equal(full.FailedTenants.Order(), incremental.FailedTenants.Order());
            Assert.Equal(full.Diagnostics, incremental.Diagnostics);
            Assert.Equal(full.Seed, incremental.Seed);
        }
        var first = source.Load();
        Assert.Equal(first.Inventory!.Seeds.Count + first.Inventory.Clusters.Count + first.Inventory.Services.Count + first.Inventory.EndpointSlices.Count,
            first.Changes.Count);
        Step(first);

        Write(TenantPath(2), SyntheticFolder.TenantManifests(2, ["203.0.113.0/24"]), LongAgo.AddMinutes(1));
        Step(source.Load([TenantPath(2)]));

        // A broken read hands nothing over; the next good one hands over everything since the last hand-over.
        var good = File.ReadAllText(TenantPath(5));
        Write(TenantPath(5), "kind: [", LongAgo.AddMinutes(2));
        File.Delete(TenantPath(6));
        var broken = source.Load();
        Assert.False(broken.Succeeded);
        Assert.Empty(broken.Changes);
        Write(TenantPath(5), good.Replace("cluster-", "cluster-x", StringComparison.Ordinal), LongAgo.AddMinutes(3));
        var repaired = source.Load([TenantPath(5)]);
        Assert.Contains(repaired.Changes, c => c.Key.StartsWith(SyntheticFolder.TenantFile(6), StringComparison.Ordinal) && c.Object is null);
        Step(repaired);

        // A file that is saved again unchanged hands nothing over.
        Write(TenantPath(1), File.ReadAllText(TenantPath(1)), LongAgo.AddMinutes(4));
        var same = source.Load([TenantPath(1)]);
        Assert.Empty(same.Changes);
        Step(same);

        // After a consumer lost track, everything is handed over again.
        source.HandOverEverythingNext();
        translator = new IncrementalTranslator();
        Step(source.Load([TenantPath(1)]));
    }

    [Fact]
    public async Task Watch_NamesTheChangedFile_AndAsksForACompleteReadEveryRescanInterval()
    {
        var source = new FolderSource(_folder.Path, new TypedLogger(new RecordingLogger())) { RescanInterval = TimeSpan.FromSeconds(3) };
        var calls = new System.Collections.Concurrent.ConcurrentQueue<IReadOnlyCollection<string>?>();
        using var stop = new CancellationTokenSource();
        var watch = source.WatchAsync(paths => { calls.Enqueue(paths); return Task.CompletedTask; }, TimeSpan.FromMilliseconds(50), stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        // Written until seen: the watcher may start after the first write.
        while (!calls.Any(c => c?.Contains(TenantPath(8)) == true))
        {
            Assert.True(DateTime.UtcNow < deadline, "the watcher never named the edited file");
            File.WriteAllText(TenantPath(8), SyntheticFolder.TenantManifests(8, ["203.0.113.0/24"]));
            await Task.Delay(100);
        }
        while (!calls.Any(c => c is null))
        {
            Assert.True(DateTime.UtcNow < deadline, "no complete read was asked for");
            await Task.Delay(100);
        }
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch);
    }

    private static KkpCluster ClusterOf(SeedInventory inventory, int tenant) =>
        inventory.Clusters.Single(c => c.Metadata.Name == SyntheticFolder.TenantId(tenant));

    private void AssertSameAsAFreshRead(SeedInventory inventory)
    {
        var fresh = new FolderSource(_folder.Path, new TypedLogger(new RecordingLogger())).Load().Inventory!;
        ManifestReaderTests.AssertSameObjects(fresh.Seeds, inventory.Seeds);
        ManifestReaderTests.AssertSameObjects(fresh.Clusters, inventory.Clusters);
        ManifestReaderTests.AssertSameObjects(fresh.Services, inventory.Services);
        ManifestReaderTests.AssertSameObjects<V1EndpointSlice>(fresh.EndpointSlices, inventory.EndpointSlices);
    }

    private static void Write(string path, string text, DateTime lastWriteUtc)
    {
        File.WriteAllText(path, text);
        File.SetLastWriteTimeUtc(path, lastWriteUtc);
    }

    private sealed class TypedLogger(RecordingLogger inner) : ILogger<FolderSource>
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
