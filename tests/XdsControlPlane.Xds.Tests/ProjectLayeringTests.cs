using System.Reflection;
using System.Xml.Linq;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>
/// The server serves snapshots and knows nothing of how they are made (as go-control-plane's server knows only
/// its cache): XdsControlPlane.Xds must not depend on the compiler, and XdsControlPlane.Snapshots on neither.
/// Checked twice: the project files (a reference nobody uses yet is still a dependency) and the built
/// assemblies (what the code actually binds to).
/// </summary>
public sealed class ProjectLayeringTests
{
    private const string Compiler = "XdsControlPlane.Compiler";
    private const string Xds = "XdsControlPlane.Xds";
    private const string Snapshots = "XdsControlPlane.Snapshots";

    [Fact]
    public void Xds_project_does_not_reach_the_compiler_through_its_project_references()
    {
        var reached = ProjectClosure(Xds);

        Assert.Contains(Snapshots, reached);
        Assert.DoesNotContain(Compiler, reached);
    }

    [Fact]
    public void Snapshots_project_references_neither_the_compiler_nor_the_server()
    {
        var reached = ProjectClosure(Snapshots);

        Assert.DoesNotContain(Compiler, reached);
        Assert.DoesNotContain(Xds, reached);
        Assert.DoesNotContain("XdsControlPlane.Model", reached);
    }

    [Fact]
    public void Xds_assembly_binds_to_the_snapshot_assembly_and_not_the_compiler()
    {
        Assert.Equal(Snapshots, typeof(Snapshot).Assembly.GetName().Name);
        var referenced = ReferencedNames(typeof(SnapshotCache).Assembly);

        Assert.Contains(Snapshots, referenced);
        Assert.DoesNotContain(Compiler, referenced);
    }

    [Fact]
    public void Snapshot_assembly_binds_to_neither_the_compiler_nor_the_server()
    {
        var referenced = ReferencedNames(typeof(Snapshot).Assembly);

        Assert.DoesNotContain(Compiler, referenced);
        Assert.DoesNotContain(Xds, referenced);
    }

    private static HashSet<string> ReferencedNames(Assembly assembly) =>
        assembly.GetReferencedAssemblies().Select(a => a.Name!).ToHashSet(StringComparer.Ordinal);

    /// <summary>Every project <paramref name="project"/> references, directly or through another, by name.</summary>
    private static HashSet<string> ProjectClosure(string project)
    {
        var src = Path.Combine(RepositoryRoot(), "src");
        var reached = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.Combine(src, project, project + ".csproj")]);
        while (pending.TryPop(out var path))
        {
            Assert.True(File.Exists(path), $"project file {path} not found");
            foreach (var reference in XDocument.Load(path).Descendants("ProjectReference"))
            {
                var include = reference.Attribute("Include")?.Value.Replace('\\', '/')
                    ?? throw new InvalidOperationException($"{path}: a ProjectReference without Include");
                var referenced = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, include));
                if (reached.Add(Path.GetFileNameWithoutExtension(referenced)))
                {
                    pending.Push(referenced);
                }
            }
        }
        return reached;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "XdsControlPlane.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException($"no XdsControlPlane.sln above {AppContext.BaseDirectory}");
    }
}
