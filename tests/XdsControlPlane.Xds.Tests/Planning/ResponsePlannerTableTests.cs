using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests.Planning;

/// <summary>
/// Every obligation of XDS-PROTOCOL.md that decides what a stream sends, as rows of (state, event) → response,
/// against the planner alone (no HTTP, no gRPC). A row: the snapshot served first, the steps that make the state
/// (each followed by the writer's look, whose answer is not checked), the event, and what the stream must write
/// next. <see cref="PlannerRun"/> says how responses are written down.
/// </summary>
public sealed class ResponsePlannerTableTests
{
    private sealed record Row(Snapshot Start, Step[] Given, Step When, string Then, bool Ads = true);

    private static Snapshot Base() => Snap(Cluster("a"), Cluster("b"), Listener("l1", 10000, "a"), Routes("r1", "a"));

    private static string V(Google.Protobuf.IMessage message, string name) => new EnvoyResource(name, message).Version;

    private static readonly Dictionary<string, Row> Sotw = new()
    {
        ["O7 a first request with no names is a wildcard: every cluster"] =
            new(Base(), [], new Subscribe("CDS"), "CDS[a,b]"),
        ["O4 an ACK gets no response while nothing changes"] =
            new(Base(), [new Subscribe("CDS")], new Ack("CDS"), ""),
        ["O4 a NACK gets no response: the rejected version is not re-sent"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS"), new Change([Cluster("a", timeoutSeconds: 9)])], new Nack("CDS"), ""),
        ["O4 after a NACK the next change is pushed"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS"), new Change([Cluster("a", timeoutSeconds: 9)]), new Nack("CDS")],
                new Change([Cluster("b", timeoutSeconds: 9)]), "CDS[a,b]"),
        ["O3 a request with a stale nonce gets no response"] =
            new(Base(), [new Subscribe("EDS", "a"), new Ack("EDS")], new StaleRequest("EDS", "a", "b"), ""),
        ["O5 a change to clusters only sends no listener response"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS")],
                new Change([Cluster("b", timeoutSeconds: 9)]), "CDS[a,b]"),
        ["O6 once names were sent, an empty list means none (LDS/CDS: an empty response)"] =
            new(Base(), [new Subscribe("CDS", "a"), new Ack("CDS")], new Subscribe("CDS"), "CDS[]"),
        ["O6 '*' plus names is the wildcard plus those names"] =
            new(Base(), [], new Subscribe("EDS", "*", "a"), "EDS[a,b]"),
        ["O6 explicit names: only those are sent"] =
            new(Base(), [], new Subscribe("EDS", "b"), "EDS[b]"),
        ["O7 LDS and CDS are full state: one change sends every subscribed resource"] =
            new(Snap(Cluster("a"), Listener("l1", 10000, "a"), Listener("l2", 10001, "a")), [new Subscribe("LDS"), new Ack("LDS")],
                new Change([Listener("l2", 10002, "a")]), "LDS[l1,l2]"),
        ["O8 EDS omits unchanged resources"] =
            new(Base(), [new Subscribe("EDS", "a", "b"), new Ack("EDS")], new Change([Endpoints("b", 9001)]), "EDS[b]"),
        ["O8 a resource removed from the snapshot is not signalled by EDS"] =
            new(Base(), [new Subscribe("EDS", "a", "b"), new Ack("EDS")], new Change([], ("CDS", "b"), ("EDS", "b")), ""),
        ["O7 a cluster removed from the snapshot is left out of the next CDS response"] =
            new(Snap(Cluster("a"), Cluster("b")), [new Subscribe("CDS"), new Ack("CDS")], new Change([], ("CDS", "b"), ("EDS", "b")), "CDS[a]"),
        ["O9 a name newly added to the subscription is sent even if unchanged"] =
            new(Base(), [new Subscribe("EDS", "a"), new Ack("EDS")], new Subscribe("EDS", "a", "b"), "EDS[b]"),
        ["O9 unsubscribing a name sends nothing for EDS"] =
            new(Base(), [new Subscribe("EDS", "a", "b"), new Ack("EDS")], new Unsubscribe("EDS", "b"), ""),
        ["O10 a name that does not exist yet is pushed when it appears"] =
            new(Base(), [new Subscribe("EDS", "a", "ghost"), new Ack("EDS")], new Change([Cluster("ghost")]), "EDS[ghost]"),
        ["O11 a new snapshot with the same content sends nothing"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("EDS", "a"), new Ack("EDS")], new Serve(Base()), ""),
        ["O12 after a cluster changed, the next EDS request for it is answered though its endpoints did not change"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("EDS", "a", "b"), new Ack("EDS"),
                new Change([Cluster("a", timeoutSeconds: 9)[0]])], new Ack("EDS"), "EDS[a]"),
        ["O13 over ADS one change goes CDS, EDS, LDS, RDS"] =
            new(Base(), [new Subscribe("RDS", "r1"), new Ack("RDS"), new Subscribe("LDS"), new Ack("LDS"), new Subscribe("EDS", "a", "b"),
                new Ack("EDS"), new Subscribe("CDS"), new Ack("CDS")],
                new Change([Cluster("a", 7000, timeoutSeconds: 1), Listener("l1", 10001, "a"), Routes("r1", "b")]),
                "CDS[a,b] ; EDS[a] ; LDS[l1] ; RDS[r1]"),
        ["O13 make: a removed cluster stays while the listener the client holds uses it"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS")],
                new Serve(Snap(Cluster("a"), Cluster("new"), Listener("l1", 10000, "new"))), "CDS[a,new,old] ; LDS[l1]"),
        ["O13 make: the cluster stays after the CDS ACK while the listener is not ACKed"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS"),
                    new Serve(Snap(Cluster("a"), Cluster("new"), Listener("l1", 10000, "new")))],
                new Ack("CDS"), ""),
        ["O13 break: the cluster goes once the listener update is ACKed"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS"),
                    new Serve(Snap(Cluster("a"), Cluster("new"), Listener("l1", 10000, "new"))), new Ack("CDS")],
                new Ack("LDS"), "CDS[a,new]"),
        ["O13 a per-type CDS stream removes the cluster at once (no listeners on it)"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")), [new Subscribe("CDS"), new Ack("CDS")],
                new Serve(Snap(Cluster("a"), Cluster("new"), Listener("l1", 10000, "new"))), "CDS[a,new]", Ads: false),
        ["O21 a reconnecting client that holds the current version gets nothing"] =
            new(Base(), [], new Resume("CDS", [], Base().Get(TypeUrls.Cluster).Version, new Dictionary<string, string>()), ""),
        ["O21 a reconnecting client with another version gets the current one"] =
            new(Base(), [], new Resume("CDS", [], "an-older-version", new Dictionary<string, string>()), "CDS[a,b]"),
    };

    private static readonly Dictionary<string, Row> Delta = new()
    {
        ["O14 a first request with no names is a wildcard: every cluster"] =
            new(Base(), [], new Subscribe("CDS"), "CDS[+a,+b]"),
        ["O14 a fresh client is answered even when there is nothing"] =
            new(Snap(), [], new Subscribe("CDS"), "CDS[]"),
        ["O4 an ACK gets no response while nothing changes"] =
            new(Base(), [new Subscribe("CDS")], new Ack("CDS"), ""),
        ["O4 a NACK gets no response: nothing is re-sent"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS"), new Change([Cluster("a", timeoutSeconds: 9)])], new Nack("CDS"), ""),
        ["O4 after a NACK the next change sends only that change"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS"), new Change([Cluster("a", timeoutSeconds: 9)]), new Nack("CDS")],
                new Change([Cluster("b", timeoutSeconds: 9)]), "CDS[+b]"),
        ["O15 a subscription change is applied even with a stale nonce"] =
            new(Base(), [new Subscribe("EDS", "a"), new Ack("EDS")], new StaleRequest("EDS", "b"), "EDS[+b]"),
        ["O16 every name subscribed is sent, even one the client holds"] =
            new(Base(), [new Subscribe("EDS", "a"), new Ack("EDS")], new Subscribe("EDS", "a"), "EDS[+a]"),
        ["O17 a name that does not exist is returned as removed"] =
            new(Base(), [], new Subscribe("EDS", "a", "ghost"), "EDS[+a,-ghost]"),
        ["O17 the subscription stays: the name is sent when it appears"] =
            new(Base(), [new Subscribe("EDS", "a", "ghost"), new Ack("EDS")], new Change([Cluster("ghost")]), "EDS[+ghost]"),
        ["O18 a deleted resource is listed as removed; unchanged ones are not resent"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS")], new Change([], ("CDS", "b"), ("EDS", "b")), "CDS[-b]"),
        ["O18 a changed resource alone is sent"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS")], new Change([Cluster("a", timeoutSeconds: 9)]), "CDS[+a]"),
        ["O18 a subscribed name that is deleted is removed and stays subscribed"] =
            new(Base(), [new Subscribe("EDS", "a", "b"), new Ack("EDS")], new Change([], ("CDS", "b"), ("EDS", "b")), "EDS[-b]"),
        ["O18 explicit names: a change to a name not subscribed sends nothing"] =
            new(Base(), [new Subscribe("EDS", "a"), new Ack("EDS")], new Change([Endpoints("b", 9001)]), ""),
        ["O18 a snapshot built afresh (no change set) still sends only what changed"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS")],
                new Serve(Snap(Cluster("a", timeoutSeconds: 9), Cluster("b"), Listener("l1", 10000, "a"), Routes("r1", "a"))), "CDS[+a]"),
        ["O19 unsubscribing from an unknown name is harmless and needs no reply"] =
            new(Base(), [new Subscribe("EDS", "a", "b"), new Ack("EDS")], new Unsubscribe("EDS", "never-heard-of-it"), ""),
        ["O19 an unsubscribe-only request needs no reply"] =
            new(Base(), [new Subscribe("EDS", "a", "b"), new Ack("EDS")], new Unsubscribe("EDS", "b"), ""),
        ["O19 the unsubscribed name is no longer pushed"] =
            new(Base(), [new Subscribe("EDS", "a", "b"), new Ack("EDS"), new Unsubscribe("EDS", "b")],
                new Change([Endpoints("a", 9000), Endpoints("b", 9001)]), "EDS[+a]"),
        ["O19 unsubscribing a name still covered by the wildcard is answered"] =
            new(Base(), [new Subscribe("CDS", "*", "a"), new Ack("CDS")], new Unsubscribe("CDS", "a"), "CDS[+a]"),
        ["O20 on reconnect, current versions are not re-sent, changed are sent, gone are removed"] =
            new(Snap(Cluster("a", timeoutSeconds: 1), Cluster("b"), Cluster("d")), [],
                new Resume("CDS", [], "", new Dictionary<string, string>
                {
                    ["a"] = V(Cluster("a")[0], "a"), ["b"] = V(Cluster("b")[0], "b"), ["c"] = V(Cluster("c")[0], "c"),
                }),
                "CDS[+a,+d,-c]"),
        ["O20 a reconnect with everything current gets nothing"] =
            new(Base(), [], new Resume("EDS", ["a", "b"], "", new Dictionary<string, string>
            {
                ["a"] = V(Cluster("a")[1], "a"), ["b"] = V(Cluster("b")[1], "b"),
            }), ""),
        ["O11 a new snapshot with the same content sends nothing"] =
            new(Base(), [new Subscribe("CDS"), new Ack("CDS")], new Serve(Base()), ""),
        ["O13 over ADS one change goes CDS, EDS, LDS, RDS"] =
            new(Base(), [new Subscribe("RDS", "r1"), new Ack("RDS"), new Subscribe("LDS"), new Ack("LDS"), new Subscribe("EDS", "a", "b"),
                new Ack("EDS"), new Subscribe("CDS"), new Ack("CDS")],
                new Change([Cluster("a", 7000, timeoutSeconds: 1), Listener("l1", 10001, "a"), Routes("r1", "b")]),
                "CDS[+a] ; EDS[+a] ; LDS[+l1] ; RDS[+r1]"),
        ["O13 make: a removed cluster stays while the listener the client holds uses it"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS")],
                new Change([Cluster("new"), Listener("l1", 10000, "new")], ("CDS", "old"), ("EDS", "old")), "CDS[+new] ; LDS[+l1]"),
        ["O13 make: the cluster stays after the CDS ACK while the listener is not ACKed"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS"),
                    new Change([Cluster("new"), Listener("l1", 10000, "new")], ("CDS", "old"), ("EDS", "old"))],
                new Ack("CDS"), ""),
        ["O13 make: after a NACK of the listener, a later push still keeps the cluster"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS"),
                    new Change([Cluster("new"), Listener("l1", 10000, "new")], ("CDS", "old"), ("EDS", "old")), new Ack("CDS"), new Nack("LDS")],
                new Change([Cluster("a", timeoutSeconds: 9)]), "CDS[+a]"),
        ["O13 break: the cluster is removed once the listener update is ACKed"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS"),
                    new Change([Cluster("new"), Listener("l1", 10000, "new")], ("CDS", "old"), ("EDS", "old")), new Ack("CDS")],
                new Ack("LDS"), "CDS[-old]"),
        ["O13 break: also when the snapshot is not derived (every resource compared)"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS"),
                    new Serve(Snap(Cluster("a"), Cluster("new"), Listener("l1", 10000, "new"))), new Ack("CDS")],
                new Ack("LDS"), "CDS[-old]"),
        ["O13 make, when the snapshot is not derived"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("LDS"), new Ack("LDS")],
                new Serve(Snap(Cluster("a"), Cluster("new"), Listener("l1", 10000, "new"))), "CDS[+new] ; LDS[+l1]"),
        ["O13 a route the client holds keeps its cluster too"] =
            new(Snap(Cluster("a"), Cluster("old"), Routes("r1", "old")),
                [new Subscribe("CDS"), new Ack("CDS"), new Subscribe("RDS", "r1"), new Ack("RDS")],
                new Change([Routes("r1", "a")], ("CDS", "old"), ("EDS", "old")), "RDS[+r1]"),
        ["O13 a per-type CDS stream removes the cluster at once (no listeners on it)"] =
            new(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")), [new Subscribe("CDS"), new Ack("CDS")],
                new Change([Cluster("new"), Listener("l1", 10000, "new")], ("CDS", "old"), ("EDS", "old")), "CDS[+new,-old]", Ads: false),
    };

    public static TheoryData<string> SotwRows => [.. Sotw.Keys];

    public static TheoryData<string> DeltaRows => [.. Delta.Keys];

    [Theory]
    [MemberData(nameof(SotwRows))]
    public void State_of_the_world(string obligation) => Check(Sotw[obligation], delta: false);

    [Theory]
    [MemberData(nameof(DeltaRows))]
    public void Incremental(string obligation) => Check(Delta[obligation], delta: true);

    /// <summary>
    /// Delta rows again with every plan made by comparing every resource: the change-set path (O(changes)) must
    /// answer exactly as the comparison does.
    /// </summary>
    [Theory]
    [MemberData(nameof(DeltaRows))]
    public void Incremental_by_comparison_answers_the_same(string obligation) => Check(Delta[obligation], delta: true, alwaysCompare: true);

    private static void Check(Row row, bool delta, bool alwaysCompare = false)
    {
        var run = new PlannerRun(delta, row.Start, row.Ads) { AlwaysCompare = alwaysCompare };
        foreach (var step in row.Given)
        {
            run.Run(step);
        }
        Assert.Equal(row.Then, run.Run(row.When));
    }
}
