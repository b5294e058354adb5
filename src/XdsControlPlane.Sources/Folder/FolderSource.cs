using System.Diagnostics;
using System.IO.Hashing;
using k8s.Models;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;

namespace XdsControlPlane.Sources.Folder;

/// <summary>What one read of the folder produced.</summary>
/// <param name="Inventory">The objects, or null when a file could not be read: then nothing may be applied.</param>
public sealed record FolderLoadResult(SeedInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics, IReadOnlyList<string> Files)
{
    /// <summary>How much of the folder this read had to look at again.</summary>
    public FolderReadCounts Counts { get; init; } = new(0, 0, 0, 0);
}

/// <summary>
/// Per read: <paramref name="Parsed"/> files read and parsed (new or changed), <paramref name="Rehashed"/> files read
/// again because their size or time changed but whose content was the same, <paramref name="Unchanged"/> files not
/// opened at all, <paramref name="Removed"/> files gone since the last read.
/// </summary>
public sealed record FolderReadCounts(int Parsed, int Rehashed, int Unchanged, int Removed);

/// <summary>
/// The embedded default source: a folder of Kubernetes YAML manifests (KKP Seed and Cluster objects,
/// Services and EndpointSlices), re-read whenever a file in it changes.
/// </summary>
/// <remarks>
/// Each file's objects are kept between reads: a read opens only the files whose size or modification time changed,
/// and parses only those whose content hash changed, so an edit of one tenant's file costs that file, not the folder.
/// The inventory is then put together from every file's kept objects. The kept objects are handed to the translation
/// as they are, like the Kubernetes source's informer cache; nothing may modify them.
/// </remarks>
public sealed partial class FolderSource(string folder, ILogger<FolderSource> logger)
{
    /// <summary>
    /// A file modified this close to when it was last checked may change again within the same timestamp tick
    /// (a coarse file system, or two writes in one tick); its size and time are not trusted until it is older.
    /// </summary>
    private static readonly TimeSpan RacyWindow = TimeSpan.FromSeconds(2);

    private readonly ILogger<FolderSource> _logger = logger;
    private readonly Lock _gate = new();
    private Dictionary<string, CachedFile> _cache = new(StringComparer.Ordinal);

    public string Folder { get; } = Path.GetFullPath(folder);

    /// <summary>How often a long read logs its progress (FolderReadProgress).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Files parsed at once; the parse is CPU-bound.</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Reads the folder: changed files again, unchanged ones from the last read. Any file that cannot be read makes
    /// the whole read unusable (<see cref="FolderLoadResult.Inventory"/> null), so the last good configuration stays.
    /// </summary>
    public FolderLoadResult Load()
    {
        lock (_gate)
        {
            return LoadLocked();
        }
    }

    private FolderLoadResult LoadLocked()
    {
        var started = Stopwatch.GetTimestamp();
        var diagnostics = new List<Diagnostic>();
        if (!Directory.Exists(Folder))
        {
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "FolderMissing", Folder, "", "the input folder does not exist; create it or pass another with --input"));
            return new FolderLoadResult(null, diagnostics, []);
        }
        var files = Directory.EnumerateFiles(Folder, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

        // Stat every file; only those whose size or time moved (or that are new) are opened.
        var entries = new CachedFile?[files.Count];
        var toRead = new List<int>();
        var checkedAt = DateTime.UtcNow;
        for (var i = 0; i < files.Count; i++)
        {
            var info = new FileInfo(files[i]);
            if (_cache.TryGetValue(files[i], out var cached) && info.Exists && cached.Unchanged(info))
            {
                entries[i] = cached;
            }
            else
            {
                toRead.Add(i);
            }
        }
        var parsed = 0;
        var rehashed = 0;
        if (toRead.Count > 0)
        {
            var progress = new Progress(this, toRead.Count);
            Parallel.ForEach(toRead, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, MaxParallelism) }, i =>
            {
                _cache.TryGetValue(files[i], out var previous);
                var (entry, wasParsed) = ReadFile(files[i], previous, checkedAt);
                entries[i] = entry;
                if (wasParsed)
                {
                    Interlocked.Increment(ref parsed);
                }
                else if (entry is not null)
                {
                    Interlocked.Increment(ref rehashed);
                }
                progress.FileDone(entry?.Objects.Count ?? 0);
            });
        }

        var next = new Dictionary<string, CachedFile>(files.Count, StringComparer.Ordinal);
        var seeds = new List<KkpSeed>();
        var clusters = new List<KkpCluster>();
        var services = new List<V1Service>();
        var slices = new List<V1EndpointSlice>();
        var present = new List<string>(files.Count);
        for (var i = 0; i < files.Count; i++)
        {
            if (entries[i] is not { } entry)
            {
                continue; // deleted between the listing and the read
            }
            next[files[i]] = entry;
            present.Add(files[i]);
            if (entry.Error is { } error)
            {
                diagnostics.Add(error);
                continue;
            }
            foreach (var obj in entry.Objects)
            {
                switch (obj)
                {
                    case KkpSeed seed:
                        seeds.Add(seed);
                        break;
                    case KkpCluster cluster:
                        clusters.Add(cluster);
                        break;
                    case V1Service service:
                        services.Add(service);
                        break;
                    case V1EndpointSlice slice:
                        slices.Add(slice);
                        break;
                }
            }
        }
        var removed = _cache.Keys.Count(k => !next.ContainsKey(k));
        _cache = next;
        var ok = diagnostics.Count == 0;
        var counts = new FolderReadCounts(parsed, rehashed, files.Count - toRead.Count, removed);
        LogLoaded(_logger, Folder, present.Count, seeds.Count, clusters.Count, services.Count, slices.Count);
        LogReadCounts(_logger, counts.Parsed, counts.Rehashed, counts.Unchanged, counts.Removed, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new FolderLoadResult(ok ? new SeedInventory(seeds, clusters, services, slices) : null, diagnostics, present) { Counts = counts };
    }

    /// <summary>Reads one file: null if it is gone; the previous entry if its content is the same; else parsed.</summary>
    private (CachedFile? Entry, bool Parsed) ReadFile(string path, CachedFile? previous, DateTime checkedAt)
    {
        var relative = Path.GetRelativePath(Folder, path);
        byte[] bytes;
        FileInfo info;
        try
        {
            // The stat before the read: a write after it changes the time again, so the next read notices it.
            info = new FileInfo(path);
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return (null, false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var error = new Diagnostic(DiagnosticSeverity.Error, "UnreadableManifest", relative, "",
                $"cannot read the file: {e.Message}; fix its permissions (the last good configuration stays in force)");
            // Not kept as the file's content: the next read tries it again whatever its size and time.
            return (new CachedFile(-1, default, default, [], error, checkedAt), false);
        }
        var hash = XxHash128.HashToUInt128(bytes);
        if (previous is not null && previous.Length >= 0 && previous.Hash == hash)
        {
            return (previous with { Length = info.Length, LastWriteUtc = info.LastWriteTimeUtc, CheckedAtUtc = checkedAt }, false);
        }
        try
        {
            var objects = ManifestReader.Read(Decode(bytes));
            return (new CachedFile(info.Length, info.LastWriteTimeUtc, hash, objects, null, checkedAt), true);
        }
        catch (Exception e) when (e is YamlDotNet.Core.YamlException or FormatException or InvalidOperationException or ArgumentException)
        {
            var error = new Diagnostic(DiagnosticSeverity.Error, "InvalidManifest", relative, "",
                $"cannot read the file as Kubernetes YAML: {FirstLine(e)}; fix it (the last good configuration stays in force)");
            return (new CachedFile(info.Length, info.LastWriteTimeUtc, hash, [], error, checkedAt), true);
        }
    }

    /// <summary>As <see cref="File.ReadAllText(string)"/> decodes: UTF-8 unless a byte order mark says otherwise.</summary>
    private static string Decode(byte[] bytes)
    {
        using var reader = new StreamReader(new MemoryStream(bytes), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>Reads every document; kinds we do not use are skipped rather than refused.</summary>
    public static List<object> ParseManifests(string yaml) => ManifestReader.Read(yaml);

    /// <summary>Calls <paramref name="onChange"/> (debounced) whenever a manifest in the folder changes.</summary>
    public async Task WatchAsync(Func<Task> onChange, TimeSpan debounce, CancellationToken cancellationToken)
    {
        var signal = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(Folder) { IncludeSubdirectories = true, EnableRaisingEvents = true };
        void Notify(object? sender, FileSystemEventArgs e) => signal.Release();
        watcher.Changed += Notify;
        watcher.Created += Notify;
        watcher.Deleted += Notify;
        watcher.Renamed += (s, e) => signal.Release();
        while (!cancellationToken.IsCancellationRequested)
        {
            await signal.WaitAsync(cancellationToken);
            // Editors write in bursts (truncate, write, rename): wait for quiet before reading.
            while (await signal.WaitAsync(debounce, cancellationToken))
            {
            }
            LogChanged(_logger, Folder);
            await onChange();
        }
    }

    private static string FirstLine(Exception e) => e switch
    {
        YamlDotNet.Core.YamlException y => $"line {y.Start.Line}, column {y.Start.Column}: {(y.InnerException?.Message ?? y.Message).Split('\n')[0].Trim()}",
        FormatException => e.Message.Split('\n')[0].Trim(),
        _ => (e.InnerException?.Message ?? e.Message).Split('\n')[0].Trim(),
    };

    /// <summary>One file as last read: its size, time and content hash, and its objects or why it could not be read.</summary>
    private sealed record CachedFile(long Length, DateTime LastWriteUtc, UInt128 Hash, IReadOnlyList<object> Objects, Diagnostic? Error, DateTime CheckedAtUtc)
    {
        public bool Unchanged(FileInfo info) =>
            Length >= 0 && info.Length == Length && info.LastWriteTimeUtc == LastWriteUtc && LastWriteUtc < CheckedAtUtc - RacyWindow;
    }

    /// <summary>Logs files read / to read at most once per <see cref="ProgressInterval"/>, from whichever parse thread passes it.</summary>
    private sealed class Progress(FolderSource source, int total)
    {
        private readonly long _interval = (long)(source.ProgressInterval.TotalSeconds * Stopwatch.Frequency);
        private long _nextReport = Stopwatch.GetTimestamp() + (long)(source.ProgressInterval.TotalSeconds * Stopwatch.Frequency);
        private int _files;
        private long _objects;

        public void FileDone(int objects)
        {
            var files = Interlocked.Increment(ref _files);
            var sum = Interlocked.Add(ref _objects, objects);
            var due = Interlocked.Read(ref _nextReport);
            var now = Stopwatch.GetTimestamp();
            if (now >= due && Interlocked.CompareExchange(ref _nextReport, now + _interval, due) == due)
            {
                LogProgress(source._logger, source.Folder, files, total, sum);
            }
        }
    }

    [LoggerMessage(EventId = 100, EventName = "FolderLoaded", Level = LogLevel.Information,
        Message = "Read {Folder}: {Files} files, {Seeds} seeds, {Clusters} clusters, {Services} services, {Slices} endpoint slices")]
    private static partial void LogLoaded(ILogger logger, string folder, int files, int seeds, int clusters, int services, int slices);

    [LoggerMessage(EventId = 101, EventName = "FolderChanged", Level = LogLevel.Information, Message = "Manifests in {Folder} changed; re-reading")]
    private static partial void LogChanged(ILogger logger, string folder);

    [LoggerMessage(EventId = 102, EventName = "FolderReadProgress", Level = LogLevel.Information,
        Message = "Reading {Folder}: {FilesRead}/{FilesToRead} files, {Objects} objects so far")]
    private static partial void LogProgress(ILogger logger, string folder, int filesRead, int filesToRead, long objects);

    [LoggerMessage(EventId = 103, EventName = "FolderReadCounts", Level = LogLevel.Debug,
        Message = "Folder read in {ElapsedMs:F0} ms: {Parsed} files parsed, {Rehashed} re-read with the same content, {Unchanged} unchanged, {Removed} removed")]
    private static partial void LogReadCounts(ILogger logger, int parsed, int rehashed, int unchanged, int removed, double elapsedMs);
}
