namespace XdsControlPlane.Sources.Folder;

/// <summary>
/// Per read: <paramref name="Parsed"/> files read and parsed (new or changed), <paramref name="Rehashed"/> files read
/// again because their size or time changed but whose content was the same, <paramref name="Unchanged"/> files not
/// opened at all, <paramref name="Removed"/> files gone since the last read.
/// </summary>
public sealed record FolderReadCounts(int Parsed, int Rehashed, int Unchanged, int Removed);
