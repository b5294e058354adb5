using System.Diagnostics;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Pipeline;

/// <summary>What one apply did.</summary>
public sealed record ApplyOutcome(bool Applied, CompiledSeed? Current, IReadOnlyList<Diagnostic> Diagnostics, TimeSpan Elapsed, string? RejectedBecause);
