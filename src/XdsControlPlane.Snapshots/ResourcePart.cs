namespace XdsControlPlane.Snapshots;

/// <summary>
/// One part of a <see cref="ResourceParts"/> resource: a key naming it within the resource and standing for its
/// content (two parts with equal keys are the same part, whichever compilation made them), and its references.
/// </summary>
public readonly record struct ResourcePart(string Key, ResourceReferences References);
