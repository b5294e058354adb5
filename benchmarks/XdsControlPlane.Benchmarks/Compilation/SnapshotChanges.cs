using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Benchmarks.Compilation;

/// <summary>What a change between two snapshots sends: the resources that are new or whose version changed, and the names that went.</summary>
public static class SnapshotChanges
{
    public static IEnumerable<EnvoyResource> Changed(ResourceSet before, ResourceSet after) =>
        after.Resources.Values.Where(r => !before.Resources.TryGetValue(r.Name, out var old) || old.Version != r.Version);

    public static IEnumerable<string> Removed(ResourceSet before, ResourceSet after) =>
        before.Resources.Keys.Where(name => !after.Resources.ContainsKey(name));

    public static IEnumerable<(string TypeUrl, EnvoyResource Resource)> Changed(Snapshot before, Snapshot after) =>
        after.ByType.SelectMany(set => Changed(before.Get(set.Key), set.Value).Select(r => (set.Key, r)));
}
