namespace XdsControlPlane.Model;

/// <summary>The whole input of one compilation: the seed and all its tenants, sorted by id.</summary>
public sealed record SeedModel(SeedSettings Seed, ValueList<Tenant> Tenants);
