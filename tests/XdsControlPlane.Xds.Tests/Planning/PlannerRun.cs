using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using XdsControlPlane.Xds.Planning;

namespace XdsControlPlane.Xds.Tests.Planning;

/// <summary>One thing that happens to a stream: a request from the client, or a new snapshot.</summary>
internal abstract record Step;

/// <summary>
/// SotW: a request naming exactly these names (Envoy sends the whole list each time), answering the latest response
/// (an ACK when one was sent). Delta: <c>resource_names_subscribe</c> with these names, answering the latest response.
/// </summary>
internal sealed record Subscribe(string Type, params string[] Names) : Step;

/// <summary>SotW: the same list without these names; delta: <c>resource_names_unsubscribe</c>.</summary>
internal sealed record Unsubscribe(string Type, params string[] Names) : Step;

/// <summary>The client accepts the latest response of the type (the names unchanged).</summary>
internal sealed record Ack(string Type) : Step;

/// <summary>The client rejects the latest response of the type (<c>error_detail</c> set).</summary>
internal sealed record Nack(string Type) : Step;

/// <summary>A request carrying a nonce the server never sent last (from before a later response).</summary>
internal sealed record StaleRequest(string Type, params string[] Names) : Step;

/// <summary>The first request of a reconnecting client: SotW <c>version_info</c>, delta <c>initial_resource_versions</c>.</summary>
internal sealed record Resume(string Type, string[] Names, string VersionInfo, IReadOnlyDictionary<string, string> Versions) : Step;

/// <summary>A new snapshot derived from the current one (the compiler's way: the set knows what changed).</summary>
internal sealed record Change(object[] Upserts, params (string Type, string Name)[] Removals) : Step;

/// <summary>A snapshot built afresh (not derived: the planner cannot take the change set from it).</summary>
internal sealed record Serve(Snapshot Snapshot) : Step;

/// <summary>
/// Drives a set of <see cref="Subscription"/>s and <see cref="ResponsePlanner"/> as a stream would, without the
/// stream: after each step the writer plans every type in push order (over ADS) and records what it "sent". The
/// responses are rendered as text: <c>CDS[a,b]</c> for SotW, <c>CDS[+a,-b]</c> for delta, " ; " between responses,
/// "" for nothing; names sorted inside a response (their order there is no obligation).
/// </summary>
internal sealed class PlannerRun(bool delta, Snapshot start, bool ads = true)
{
    private readonly Dictionary<string, Subscription> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _requested = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _now = DateTimeOffset.UnixEpoch;
    private int _nonces;

    public Snapshot Current { get; private set; } = start;

    /// <summary>Before each plan, forget the set the client was settled against: every plan compares everything.</summary>
    public bool AlwaysCompare { get; init; }

    public IReadOnlyDictionary<string, Subscription> Types => _types;

    public static readonly IReadOnlyDictionary<string, string> Short = new Dictionary<string, string>
    {
        [TypeUrls.Cluster] = "CDS",
        [TypeUrls.Endpoint] = "EDS",
        [TypeUrls.Listener] = "LDS",
        [TypeUrls.Route] = "RDS",
        [TypeUrls.ScopedRoute] = "SRDS",
        [TypeUrls.ExtensionConfig] = "ECDS",
    };

    private static readonly Dictionary<string, string> Long = Short.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>Applies <paramref name="step"/> and returns what the stream would write next.</summary>
    public string Run(Step step)
    {
        bool due;
        switch (step)
        {
            case Change change:
                Current = TestSnapshots.Change(Current, change.Upserts, [.. change.Removals.Select(r => (Long[r.Type], r.Name))]);
                due = true;
                break;
            case Serve serve:
                Current = serve.Snapshot;
                due = true;
                break;
            default:
                due = Request(step);
                break;
        }
        return due ? Plan() : "";
    }

    private bool Request(Step step)
    {
        var (shortType, subscribe, unsubscribe, nonceOverride, nack, versionInfo, initial) = step switch
        {
            Subscribe s => (s.Type, s.Names, Array.Empty<string>(), (string?)null, false, (string?)null, (IReadOnlyDictionary<string, string>?)null),
            Unsubscribe u => (u.Type, [], u.Names, null, false, null, null),
            Ack a => (a.Type, [], [], null, false, null, null),
            Nack n => (n.Type, [], [], null, true, null, null),
            StaleRequest s => (s.Type, s.Names, [], "stale", false, null, null),
            Resume r => (r.Type, r.Names, [], "", false, r.VersionInfo, r.Versions),
            _ => throw new ArgumentException(step.ToString()),
        };
        var typeUrl = Long[shortType];
        if (!_types.TryGetValue(typeUrl, out var sub))
        {
            sub = new Subscription(typeUrl);
            _types[typeUrl] = sub;
        }
        var nonce = nonceOverride ?? sub.Tracker.NonceSent ?? "";
        var nackMessage = nack ? "INVALID_ARGUMENT: rejected" : null;
        if (delta)
        {
            var outcome = sub.ApplyDelta(step is Subscribe or StaleRequest or Resume ? subscribe : [], unsubscribe,
                initial ?? new Dictionary<string, string>(), nonce, nackMessage, _now, out var wake);
            return wake || ResponsePlanner.AckMayReleaseClusters(outcome, _types);
        }
        // SotW: every request carries the whole list.
        var names = _requested.TryGetValue(typeUrl, out var held) ? held : [];
        if (step is Subscribe or StaleRequest or Resume)
        {
            names = [.. subscribe];
        }
        else if (step is Unsubscribe)
        {
            names = [.. names.Except(unsubscribe)];
        }
        if (step is not StaleRequest)
        {
            _requested[typeUrl] = names;
        }
        names.Sort(StringComparer.Ordinal);
        var sotwOutcome = sub.ApplySotw(names, versionInfo ?? sub.Tracker.VersionSent ?? "", nonce, nackMessage,
            Current.Get(typeUrl).Resources, _now);
        // The stream's writer looks again after every request but a stale one.
        return sotwOutcome != RequestOutcome.Stale;
    }

    private string Plan()
    {
        var responses = new List<string>();
        List<string>? changedEds = null;
        foreach (var typeUrl in TypeUrls.PushOrder)
        {
            if (!_types.TryGetValue(typeUrl, out var sub) || !sub.Requested)
            {
                continue;
            }
            if (AlwaysCompare)
            {
                sub.ChangesFrom = null;
            }
            var set = Current.Get(typeUrl);
            var plan = delta
                ? ResponsePlanner.PlanDelta(sub, set, _types, ads)
                : ResponsePlanner.PlanSotw(sub, set, _types, ads, _now, ref changedEds);
            if (plan is null)
            {
                continue;
            }
            Assert.Equal(typeUrl, plan.TypeUrl);
            // O11: no name twice, no resource of another type.
            Assert.Equal(plan.Resources.Count, plan.Resources.Select(r => r.Name).Distinct().Count());
            Assert.All(plan.Resources, r => Assert.Equal(typeUrl, r.TypeUrl));
            sub.Sent(plan, $"n{++_nonces}", _now);
            responses.Add(Render(plan));
        }
        return string.Join(" ; ", responses);
    }

    private string Render(ResponsePlan plan)
    {
        var names = delta
            ? plan.Resources.Select(r => "+" + r.Name).Order(StringComparer.Ordinal).Concat(plan.Removed.Select(n => "-" + n))
            : plan.Resources.Select(r => r.Name).Order(StringComparer.Ordinal);
        return $"{Short[plan.TypeUrl]}[{string.Join(",", names)}]";
    }
}
