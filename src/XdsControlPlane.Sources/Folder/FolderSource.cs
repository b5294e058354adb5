using System.Collections.Immutable;
using System.Diagnostics;
using System.IO.Hashing;
using k8s.Models;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Folder;

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

    // Every file as last read, by full path. Immutable, so a result's lazily built inventory sees the files of its read.
    private ImmutableSortedDictionary<string, CachedFile> _cache = ImmutableSortedDictionary.Create<string, CachedFile>(StringComparer.Ordinal);

    // The files that cannot be read now (each refuses every read until it is fixed or gone), by full path.
    private readonly SortedDictionary<string, Diagnostic> _broken = new(StringComparer.Ordinal);

    // What the last read that succeeded handed over per file, and the files whose objects changed since.
    private readonly Dictionary<string, IReadOnlyList<object>> _handedOver = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);

    public string Folder { get; } = Path.GetFullPath(folder);

    /// <summary>How often a long read logs its progress (FolderReadProgress).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Files parsed at once; the parse is CPU-bound.</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// How often <see cref="WatchAsync(Func{IReadOnlyCollection{string}?, Task}, TimeSpan, CancellationToken)"/> asks
    /// for a complete read even without a notification: a safety net for changes the file system watcher missed.
    /// </summary>
    public TimeSpan RescanInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Reads the folder: changed files again, unchanged ones from the last read. Any file that cannot be read makes
    /// the whole read unusable (<see cref="FolderLoadResult.Inventory"/> null), so the last good configuration stays.
    /// </summary>
    public FolderLoadResult Load() => Load(null);

    /// <summary>
    /// Reads only <paramref name="changedPaths"/> (files or directories, as a watcher reports them; null: the whole
    /// folder as <see cref="Load()"/>), without looking at any other file. A path that is, or may have been, a directory
    /// makes it a complete read. Every file named is read and hashed: a notification is not second-guessed by its size
    /// and time.
    /// </summary>
    public FolderLoadResult Load(IReadOnlyCollection<string>? changedPaths)
    {
        lock (_gate)
        {
            if (changedPaths is not null && LoadPathsLocked(changedPaths) is { } result)
            {
                return result;
            }
            return LoadLocked();
        }
    }

    /// <summary>
    /// Makes the next read that succeeds hand over every object as changed (<see cref="FolderLoadResult.Changes"/>), for a
    /// consumer that lost track of what it was handed (e.g. its incremental translation failed half way).
    /// </summary>
    public void HandOverEverythingNext()
    {
        lock (_gate)
        {
            _handedOver.Clear();
            _pending.UnionWith(_cache.Keys);
        }
    }

    private FolderLoadResult LoadLocked()
    {
        var started = Stopwatch.GetTimestamp();
        if (!Directory.Exists(Folder))
        {
            var missing = new Diagnostic(DiagnosticSeverity.Error, "FolderMissing", Folder, "", "the input folder does not exist; create it or pass another with --input");
            return new FolderLoadResult(null, [missing], []);
        }
        var files = Directory.EnumerateFiles(Folder, "*.*", SearchOption.AllDirectories)
            .Where(IsManifest)
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
        var (parsed, rehashed) = ReadAll(toRead.Select(i => files[i]).ToList(), (index, entry) => entries[toRead[index]] = entry, checkedAt);

        var next = ImmutableSortedDictionary.CreateBuilder<string, CachedFile>(StringComparer.Ordinal);
        for (var i = 0; i < files.Count; i++)
        {
            if (entries[i] is { } entry)
            {
                next[files[i]] = entry;
                Track(files[i], entry);
            }
        }
        var removed = 0;
        foreach (var path in _cache.Keys)
        {
            if (!next.ContainsKey(path))
            {
                removed++;
                Track(path, null);
            }
        }
        _cache = next.ToImmutable();
        return Finish(new FolderReadCounts(parsed, rehashed, files.Count - toRead.Count, removed), started);
    }

    /// <summary>The read of named paths only; null when it must be a complete read.</summary>
    private FolderLoadResult? LoadPathsLocked(IReadOnlyCollection<string> changedPaths)
    {
        var started = Stopwatch.GetTimestamp();
        if (!Directory.Exists(Folder) || _cache.IsEmpty)
        {
            return null; // nothing read yet (or the folder is gone): only a complete read can say what there is
        }
        var toRead = new List<string>();
        var removed = new List<string>();
        foreach (var changed in changedPaths.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal))
        {
            if (!changed.StartsWith(Folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }
            if (Directory.Exists(changed))
            {
                return null; // a directory created or moved in: its files were never listed
            }
            if (File.Exists(changed))
            {
                if (IsManifest(changed))
                {
                    toRead.Add(changed);
                }
                continue;
            }
            if (_cache.ContainsKey(changed))
            {
                removed.Add(changed);
            }
            else if (!IsManifest(changed))
            {
                return null; // gone and never a manifest we read: perhaps a directory, whose files we hold
            }
        }
        var checkedAt = DateTime.UtcNow;
        var entries = new CachedFile?[toRead.Count];
        var (parsed, rehashed) = ReadAll(toRead, (index, entry) => entries[index] = entry, checkedAt);
        var cache = _cache.ToBuilder();
        for (var i = 0; i < toRead.Count; i++)
        {
            if (entries[i] is { } entry)
            {
                cache[toRead[i]] = entry;
            }
            else if (cache.Remove(toRead[i]))
            {
                removed.Add(toRead[i]); // deleted between the check and the read
            }
            Track(toRead[i], entries[i]);
        }
        foreach (var path in removed)
        {
            cache.Remove(path);
            Track(path, null);
        }
        _cache = cache.ToImmutable();
        return Finish(new FolderReadCounts(parsed, rehashed, _cache.Count - toRead.Count, removed.Count), started);
    }

    /// <summary>Reads the files (in parallel), reporting progress; how many were parsed and how many re-read unchanged.</summary>
    private (int Parsed, int Rehashed) ReadAll(List<string> paths, Action<int, CachedFile?> done, DateTime checkedAt)
    {
        var parsed = 0;
        var rehashed = 0;
        if (paths.Count == 0)
        {
            return (0, 0);
        }
        var progress = new Progress(this, paths.Count);
        void ReadOne(int i)
        {
            _cache.TryGetValue(paths[i], out var previous);
            var (entry, wasParsed) = ReadFile(paths[i], previous, checkedAt);
            done(i, entry);
            if (wasParsed)
            {
                Interlocked.Increment(ref parsed);
            }
            else if (entry is not null)
            {
                Interlocked.Increment(ref rehashed);
            }
            progress.FileDone(entry?.Objects.Count ?? 0);
        }
        if (paths.Count == 1)
        {
            ReadOne(0); // one edited file: no parallel loop to start
        }
        else
        {
            Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, MaxParallelism) }, ReadOne);
        }
        return (parsed, rehashed);
    }

    /// <summary>Notes a file's state after a read: broken or not, and whether its objects differ from those handed over.</summary>
    private void Track(string path, CachedFile? entry)
    {
        if (entry?.Error is { } error)
        {
            _broken[path] = error;
            return;
        }
        _broken.Remove(path);
        var objects = entry?.Objects ?? [];
        var handed = _handedOver.GetValueOrDefault(path) ?? [];
        if (!ReferenceEquals(objects, handed) && (objects.Count > 0 || handed.Count > 0))
        {
            _pending.Add(path);
        }
    }

    /// <summary>The result of a read: refused while any file is broken, else the changes since the last hand-over.</summary>
    private FolderLoadResult Finish(FolderReadCounts counts, long started)
    {
        var cache = _cache;
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        IReadOnlyList<string> Files() => [.. cache.Keys];
        if (_broken.Count > 0)
        {
            LogReadCounts(_logger, counts.Parsed, counts.Rehashed, counts.Unchanged, counts.Removed, elapsed);
            return new FolderLoadResult(null, [.. _broken.Values], Files, []) { Counts = counts };
        }
        var changes = new List<ObjectChange>();
        foreach (var path in _pending.Order(StringComparer.Ordinal))
        {
            var objects = cache.TryGetValue(path, out var entry) ? entry.Objects : [];
            var handed = _handedOver.GetValueOrDefault(path) ?? [];
            var relative = Path.GetRelativePath(Folder, path);
            for (var i = 0; i < Math.Max(objects.Count, handed.Count); i++)
            {
                var now = i < objects.Count ? objects[i] : null;
                if (i >= handed.Count || !ReferenceEquals(now, handed[i]))
                {
                    changes.Add(new ObjectChange(ObjectKey(relative, i), now));
                }
            }
            if (objects.Count == 0)
            {
                _handedOver.Remove(path);
            }
            else
            {
                _handedOver[path] = objects;
            }
        }
        _pending.Clear();
        LogLoaded(_logger, Folder, cache.Count, changes.Count);
        LogReadCounts(_logger, counts.Parsed, counts.Rehashed, counts.Unchanged, counts.Removed, elapsed);
        return new FolderLoadResult(() => Inventory(cache), [], Files, changes) { Counts = counts };
    }

    /// <summary>An object's key: its file, relative to the folder, then its place in the file (ordinal order = inventory order).</summary>
    public static string ObjectKey(string relativePath, int index) => $"{relativePath}\0{index:D6}";

    /// <summary>Every file's objects, files in ordinal order: the whole inventory of one read.</summary>
    private static SeedInventory Inventory(ImmutableSortedDictionary<string, CachedFile> cache)
    {
        var seeds = new List<KkpSeed>();
        var clusters = new List<KkpCluster>();
        var services = new List<V1Service>();
        var slices = new List<V1EndpointSlice>();
        foreach (var entry in cache.Values)
        {
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
        return new SeedInventory(seeds, clusters, services, slices);
    }

    private static bool IsManifest(string path) =>
        path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".yml", StringComparison.Ordinal);

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
    public Task WatchAsync(Func<Task> onChange, TimeSpan debounce, CancellationToken cancellationToken) =>
        WatchAsync(_ => onChange(), debounce, cancellationToken);

    /// <summary>
    /// Calls <paramref name="onChange"/> (debounced) whenever a manifest in the folder changes, with the paths the file
    /// system watcher named (pass them to <see cref="Load(IReadOnlyCollection{string})"/>), or with null when a complete
    /// read is due: the watcher's buffer overflowed or failed (changes may have been lost), or
    /// <see cref="RescanInterval"/> passed without one.
    /// </summary>
    public async Task WatchAsync(Func<IReadOnlyCollection<string>?, Task> onChange, TimeSpan debounce, CancellationToken cancellationToken)
    {
        var signal = new SemaphoreSlim(0);
        var gate = new Lock();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var complete = false;
        void Add(params string[] changed)
        {
            lock (gate)
            {
                paths.UnionWith(changed);
            }
            signal.Release();
        }
        using var watcher = new FileSystemWatcher(Folder) { IncludeSubdirectories = true, InternalBufferSize = 64 * 1024 };
        watcher.Changed += (_, e) => Add(e.FullPath);
        watcher.Created += (_, e) => Add(e.FullPath);
        watcher.Deleted += (_, e) => Add(e.FullPath);
        watcher.Renamed += (_, e) => Add(e.OldFullPath, e.FullPath);
        watcher.Error += (_, e) =>
        {
            LogWatcherError(_logger, Folder, e.GetException().Message);
            lock (gate)
            {
                complete = true;
            }
            signal.Release();
        };
        watcher.EnableRaisingEvents = true;
        var lastComplete = Stopwatch.GetTimestamp();
        while (!cancellationToken.IsCancellationRequested)
        {
            var untilRescan = RescanInterval - Stopwatch.GetElapsedTime(lastComplete);
            if (untilRescan > TimeSpan.Zero && await signal.WaitAsync(untilRescan, cancellationToken))
            {
                // Editors write in bursts (truncate, write, rename): wait for quiet before reading.
                while (await signal.WaitAsync(debounce, cancellationToken))
                {
                }
            }
            IReadOnlyCollection<string>? changed;
            lock (gate)
            {
                changed = complete || Stopwatch.GetElapsedTime(lastComplete) >= RescanInterval ? null : [.. paths];
                paths.Clear();
                complete = false;
            }
            if (changed is null)
            {
                lastComplete = Stopwatch.GetTimestamp();
            }
            LogChanged(_logger, Folder, changed?.Count ?? -1);
            await onChange(changed);
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
        Message = "Read {Folder}: {Files} files, {Changes} objects added, changed or removed since the last read")]
    private static partial void LogLoaded(ILogger logger, string folder, int files, int changes);

    [LoggerMessage(EventId = 101, EventName = "FolderChanged", Level = LogLevel.Information,
        Message = "Manifests in {Folder} changed; re-reading {Paths} path(s) (-1: the whole folder)")]
    private static partial void LogChanged(ILogger logger, string folder, int paths);

    [LoggerMessage(EventId = 104, EventName = "FolderWatcherError", Level = LogLevel.Warning,
        Message = "The file system watcher of {Folder} failed or overflowed ({Reason}); the whole folder is read again")]
    private static partial void LogWatcherError(ILogger logger, string folder, string reason);

    [LoggerMessage(EventId = 102, EventName = "FolderReadProgress", Level = LogLevel.Information,
        Message = "Reading {Folder}: {FilesRead}/{FilesToRead} files, {Objects} objects so far")]
    private static partial void LogProgress(ILogger logger, string folder, int filesRead, int filesToRead, long objects);

    [LoggerMessage(EventId = 103, EventName = "FolderReadCounts", Level = LogLevel.Debug,
        Message = "Folder read in {ElapsedMs:F0} ms: {Parsed} files parsed, {Rehashed} re-read with the same content, {Unchanged} unchanged, {Removed} removed")]
    private static partial void LogReadCounts(ILogger logger, int parsed, int rehashed, int unchanged, int removed, double elapsedMs);
}
