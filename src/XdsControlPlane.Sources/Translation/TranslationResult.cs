using XdsControlPlane.Model;

namespace XdsControlPlane.Sources.Translation;

/// <summary>The outcome of translating one inventory.</summary>
/// <param name="Seed">The seed settings, or null when the Seed object is invalid (then nothing may be applied).</param>
/// <param name="Tenants">The tenants whose objects are all valid, sorted by id.</param>
/// <param name="FailedTenants">Tenants with an invalid object: they keep their last good output.</param>
public sealed record TranslationResult(
    SeedSettings? Seed,
    ValueList<Tenant> Tenants,
    IReadOnlySet<string> FailedTenants,
    IReadOnlyList<Diagnostic> Diagnostics);
