using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Pipeline;

/// <summary>What one apply did.</summary>
public sealed record ApplyOutcome(bool Applied, CompiledSeed? Current, IReadOnlyList<Diagnostic> Diagnostics, TimeSpan Elapsed, string? RejectedBecause);
