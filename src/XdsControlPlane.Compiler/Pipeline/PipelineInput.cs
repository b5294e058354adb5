using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Pipeline;

/// <summary>One source's view of the seed: valid tenants, tenants whose input is bad, and why.</summary>
/// <param name="Seed">Null when the seed-wide settings are invalid: nothing at all may then be applied.</param>
public sealed record PipelineInput(SeedSettings? Seed, ValueList<Tenant> Tenants, IReadOnlySet<string> FailedTenants, IReadOnlyList<Diagnostic> Diagnostics);
