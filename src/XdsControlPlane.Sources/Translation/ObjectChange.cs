namespace XdsControlPlane.Sources.Translation;

/// <summary>
/// One object of a source that was added, changed (<paramref name="Object"/> the new version) or removed
/// (<paramref name="Object"/> null). <paramref name="Key"/> is the source's identity for the object, stable across
/// versions; keys in ordinal order are the order of the inventory the source would hand over whole (the order decides
/// only between duplicates: the folder may hold two objects of one name, the API server never does).
/// </summary>
public readonly record struct ObjectChange(string Key, object? Object);
