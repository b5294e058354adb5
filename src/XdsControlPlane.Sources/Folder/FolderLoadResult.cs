using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Folder;

/// <summary>What one read of the folder produced.</summary>
/// <remarks>
/// <see cref="Inventory"/> and <see cref="Files"/> are put together from the read's files only when asked for (each is
/// O(all objects)); a consumer that translates incrementally takes <see cref="Changes"/> instead.
/// </remarks>
public sealed class FolderLoadResult
{
    private readonly Lazy<SeedInventory>? _inventory;
    private readonly Lazy<IReadOnlyList<string>> _files;

    public FolderLoadResult(SeedInventory? inventory, IReadOnlyList<Diagnostic> diagnostics, IReadOnlyList<string> files)
        : this(inventory is null ? null : () => inventory, diagnostics, () => files, [])
    {
    }

    internal FolderLoadResult(Func<SeedInventory>? inventory, IReadOnlyList<Diagnostic> diagnostics, Func<IReadOnlyList<string>> files,
        IReadOnlyList<ObjectChange> changes)
    {
        _inventory = inventory is null ? null : new Lazy<SeedInventory>(inventory);
        _files = new Lazy<IReadOnlyList<string>>(files);
        Diagnostics = diagnostics;
        Changes = changes;
    }

    /// <summary>The objects, or null when a file could not be read: then nothing may be applied.</summary>
    public SeedInventory? Inventory => _inventory?.Value;

    /// <summary>True when the read is usable (<see cref="Inventory"/> is not null), without putting the inventory together.</summary>
    public bool Succeeded => _inventory is not null;

    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    /// <summary>The manifest files read, full paths in ordinal order.</summary>
    public IReadOnlyList<string> Files => _files.Value;

    /// <summary>
    /// The objects added, changed or removed since the last read that succeeded, keyed <c>&lt;relative path&gt;\0&lt;index in the
    /// file&gt;</c> (ordinal order is the inventory's); empty when the read failed (they are handed over by the next that succeeds).
    /// The first read that succeeds hands over every object.
    /// </summary>
    public IReadOnlyList<ObjectChange> Changes { get; }

    /// <summary>How much of the folder this read had to look at again.</summary>
    public FolderReadCounts Counts { get; init; } = new(0, 0, 0, 0);
}
