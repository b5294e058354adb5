using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds.Planning;

/// <summary>
/// One resource type on one stream, state of the world or delta: the names subscribed (wildcard or not), what the
/// client holds (name → resource, so version and references), what it ACKed, and the nonce and version pending.
/// Requests change it here (<see cref="ApplySotw"/>, <see cref="ApplyDelta"/>); <see cref="ResponsePlanner"/> reads it
/// against a snapshot to decide what to send and records what was sent. No I/O: the stream that owns it holds its
/// lock around every call.
/// </summary>
internal sealed class Subscription(string typeUrl)
{
    private static readonly IReadOnlySet<string> NoNames = new HashSet<string>();

    private static readonly IReadOnlyDictionary<string, EnvoyResource> Nothing = new Dictionary<string, EnvoyResource>(StringComparer.Ordinal);

    /// <summary>How many delta responses may await an ACK and still be matched to their version.</summary>
    internal const int InFlightNonces = 16;

    /// <summary>Old listeners and routes kept for make before break on a delta stream until the next ACK, at most.</summary>
    internal const int MaxReplacedSinceAck = 4_096;

    private IReadOnlyDictionary<string, EnvoyResource> _held = Nothing;

    public string TypeUrl { get; } = typeUrl;

    /// <summary>Versions and nonces sent, ACKed and NACKed: the status views read it.</summary>
    public TypeTracker Tracker { get; } = new(typeUrl);

    /// <summary>False until the client's first request for this type.</summary>
    public bool Requested { get; private set; }

    /// <summary>The first response is owed (even an empty one: the client waits for it to finish its initial fetch).</summary>
    public bool PendingInitial { get; set; }

    /// <summary>SotW: the version the client said it holds in its first request (a reconnect), or "".</summary>
    public string ClientVersionInfo { get; private set; } = "";

    public bool Wildcard { get; private set; }

    /// <summary>SotW: subscribed by an empty first request, which stays a wildcard while the names stay empty.</summary>
    private bool _legacyWildcard;

    /// <summary>The names subscribed explicitly (besides the wildcard).</summary>
    public HashSet<string> Names { get; private set; } = new(StringComparer.Ordinal);

    /// <summary>The UTF-8 bytes of <see cref="Names"/>, against the per-type limit.</summary>
    public long NameBytes { get; private set; }

    /// <summary>
    /// What the client holds, by name. SotW: what the last response carried, replaced, never mutated (the snapshot's own
    /// immutable set when the client holds all of it, so a thousand streams share one). Delta: this stream's own
    /// map, changed resource by resource.
    /// </summary>
    public IReadOnlyDictionary<string, EnvoyResource> Held
    {
        get => _held;
        set => _held = ChangesFrom = value;
    }

    /// <summary>
    /// The snapshot set the next change set is taken from (<see cref="ResourceSet.TryGetChangedSince(IReadOnlyDictionary{string, EnvoyResource}, out IReadOnlyList{EnvoyResource}, out IReadOnlyList{string})"/>):
    /// the client holds it, or (SotW) it plus resources removed since, which SotW does not signal. Null when the
    /// subscription changed since the last plan: then every resource is compared once.
    /// </summary>
    public IReadOnlyDictionary<string, EnvoyResource>? ChangesFrom { get; set; }

    /// <summary>SotW: what the client last ACKed.</summary>
    public IReadOnlyDictionary<string, EnvoyResource> Acked { get; set; } = Nothing;

    /// <summary>Delta: the map behind <see cref="Held"/>.</summary>
    private Dictionary<string, EnvoyResource>? _deltaHeld;

    /// <summary>Delta: subscribed names the client was told do not exist.</summary>
    public IReadOnlySet<string> ToldAbsent => (IReadOnlySet<string>?)_toldAbsent ?? NoNames;

    // The sets and lists below are made on first use: most subscriptions never need them, and an idle stream's
    // memory is mostly its subscriptions.
    private HashSet<string>? _toldAbsent;

    /// <summary>Delta: <c>initial_resource_versions</c> of a reconnecting client, until the first plan settles them.</summary>
    public Dictionary<string, string>? Claimed { get; private set; }

    /// <summary>
    /// Delta, listeners and routes over ADS: what responses replaced or removed since the client's last ACK. The
    /// client may still hold them (a NACK, or no answer yet), so the clusters they use stay (make before break).
    /// </summary>
    public IReadOnlyList<EnvoyResource> ReplacedSinceAck => (IReadOnlyList<EnvoyResource>?)_replacedSinceAck ?? [];

    private List<EnvoyResource>? _replacedSinceAck;

    /// <summary>Delta, clusters over ADS: names gone from the snapshot but kept while a held listener or route uses them.</summary>
    public IReadOnlySet<string> Retained => (IReadOnlySet<string>?)_retained ?? NoNames;

    private HashSet<string>? _retained;

    /// <summary>Delta: keeps <paramref name="name"/> (held, no longer served) while a held listener or route uses it.</summary>
    public void Retain(string name) => (_retained ??= new(StringComparer.Ordinal)).Add(name);

    /// <summary>Names to send in the next response even if unchanged.</summary>
    public HashSet<string> Force { get; } = new(StringComparer.Ordinal);

    /// <summary>SotW EDS names whose cluster changed: answered on the next EDS request (the cluster is warming).</summary>
    public HashSet<string> ForceOnNextRequest { get; } = new(StringComparer.Ordinal);

    /// <summary>Delta: recent nonces and the version each carried, oldest first.</summary>
    private List<(string Nonce, string Version)>? _inFlight;

    /// <summary>Delta: how many names the client holds or was told about, against the per-type limit.</summary>
    public int HeldCount => _held.Count + ToldAbsent.Count + (Claimed?.Count ?? 0);

    /// <summary>What a name costs against <see cref="XdsServerOptions.MaxSubscribedNameBytesPerType"/>: its UTF-8 length.</summary>
    public static long ByteCountOf(string name) => System.Text.Encoding.UTF8.GetByteCount(name);

    /// <summary>Whether <paramref name="name"/> is wanted: subscribed by name, or covered by the wildcard and in <paramref name="available"/>.</summary>
    public bool Wants(string name, IReadOnlyDictionary<string, EnvoyResource> available) =>
        Names.Contains(name) || (Wildcard && available.ContainsKey(name));

    /// <summary>The resources the client may still hold: sent, and (until ACKed) what they replaced.</summary>
    public IEnumerable<EnvoyResource> HeldOrUnacknowledged()
    {
        if (_deltaHeld is not null)
        {
            return _replacedSinceAck is not { Count: > 0 } replaced ? _held.Values : _held.Values.Concat(replaced);
        }
        return ReferenceEquals(_held, Acked) ? _held.Values : _held.Values.Concat(Acked.Values);
    }

    /// <summary>
    /// Applies a state-of-the-world request: the names (interned from <paramref name="known"/>, the snapshot's own
    /// strings, so streams subscribed to the same names share them), and the ACK or NACK its nonce answers.
    /// A stale nonce changes nothing.
    /// </summary>
    public RequestOutcome ApplySotw(IReadOnlyList<string> names, string versionInfo, string nonce, string? nackMessage,
        IReadOnlyDictionary<string, EnvoyResource> known, DateTimeOffset now)
    {
        if (!Requested)
        {
            // A nonce in the first request can only come from an earlier stream: it is not current, so this is not
            // an ACK, just a (re)subscription.
            Requested = true;
            PendingInitial = true;
            ClientVersionInfo = versionInfo;
            UpdateSotwNames(names, known, first: true);
            return RequestOutcome.Initial;
        }
        if (nonce != (Tracker.NonceSent ?? ""))
        {
            return RequestOutcome.Stale;
        }
        var outcome = RequestOutcome.Request;
        if (Tracker.NonceSent is { } sentNonce)
        {
            if (nackMessage is not null)
            {
                outcome = Tracker.Nack(Tracker.VersionSent ?? "", sentNonce, nackMessage, now) ? RequestOutcome.Nack : RequestOutcome.RepeatedNack;
            }
            else
            {
                outcome = RequestOutcome.Ack;
                var latest = versionInfo == Tracker.VersionSent;
                Tracker.Ack(versionInfo, latest, now);
                if (latest)
                {
                    Acked = Held;
                }
            }
        }
        Force.UnionWith(UpdateSotwNames(names, known, first: false));
        if (ForceOnNextRequest.Count > 0)
        {
            Force.UnionWith(ForceOnNextRequest);
            ForceOnNextRequest.Clear();
        }
        Force.IntersectWith(Names);
        return outcome;
    }

    /// <summary>Applies the names of a SotW request; returns the names newly subscribed.</summary>
    private List<string> UpdateSotwNames(IReadOnlyList<string> requested, IReadOnlyDictionary<string, EnvoyResource> known, bool first)
    {
        var added = new List<string>();
        if (requested.Count == 0)
        {
            // Empty first request: (legacy) wildcard. Once names were sent, empty means "none".
            if (first)
            {
                Wildcard = true;
                _legacyWildcard = true;
            }
            else if (!_legacyWildcard)
            {
                Wildcard = false;
            }
            Names.Clear();
            NameBytes = 0;
            return added;
        }
        _legacyWildcard = false;
        if (NamesHeld(Names, requested))
        {
            // The usual request (every ACK): the names held, again. The set is kept, not rebuilt.
            Wildcard = false;
            return added;
        }
        var wildcard = false;
        var names = new HashSet<string>(requested.Count, StringComparer.Ordinal);
        // Keep the snapshot's own name strings, not the request's: a thousand streams subscribed to the same 3,000
        // endpoints then share one copy of the names instead of holding 3,000 strings each. A name already held is
        // that string already (or one not in the snapshot), found in constant time.
        var keys = known as System.Collections.Immutable.ImmutableSortedDictionary<string, EnvoyResource>;
        foreach (var name in requested)
        {
            if (Names.TryGetValue(name, out var held))
            {
                names.Add(held);
                continue;
            }
            var interned = keys is not null && keys.TryGetKey(name, out var shared) ? shared : name;
            if (interned == "*")
            {
                wildcard = true;
            }
            else if (names.Add(interned))
            {
                added.Add(interned);
            }
        }
        long bytes = 0;
        foreach (var name in names)
        {
            bytes += ByteCountOf(name);
        }
        Wildcard = wildcard;
        Names = names;
        NameBytes = bytes;
        return added;
    }

    /// <summary>
    /// True when <paramref name="requested"/> names exactly the set held. Equal counts with every name held prove it
    /// only without repeats, which names in strictly ascending order (as Envoy sends them) rule out; other orders
    /// answer false, and the caller rebuilds the set.
    /// </summary>
    private static bool NamesHeld(HashSet<string> held, IReadOnlyList<string> requested)
    {
        if (requested.Count != held.Count)
        {
            return false;
        }
        string? previous = null;
        foreach (var name in requested)
        {
            // "*" is never held: a wildcard request is never taken for the names held.
            if ((previous is not null && string.CompareOrdinal(previous, name) >= 0) || !held.Contains(name))
            {
                return false;
            }
            previous = name;
        }
        return true;
    }

    /// <summary>
    /// Applies a delta request: subscription changes apply whatever the nonce; the nonce only decides the ACK/NACK
    /// bookkeeping. Returns whether a response may now be due (<paramref name="wake"/>).
    /// </summary>
    public RequestOutcome ApplyDelta(IReadOnlyCollection<string> subscribe, IReadOnlyCollection<string> unsubscribe,
        IReadOnlyDictionary<string, string> initialVersions, string nonce, string? nackMessage, DateTimeOffset now, out bool wake)
    {
        _deltaHeld ??= [];
        if (ReferenceEquals(_held, Nothing))
        {
            _held = _deltaHeld;
        }
        wake = false;
        RequestOutcome outcome;
        if (!Requested)
        {
            Requested = true;
            wake = true;
            if (initialVersions.Count > 0)
            {
                Claimed = new Dictionary<string, string>(initialVersions, StringComparer.Ordinal);
            }
            // A fresh client must get an answer (even an empty one) to finish its initial fetch; a reconnecting one
            // (initial_resource_versions) gets only what differs from what it holds.
            PendingInitial = initialVersions.Count == 0;
            if (subscribe.Count == 0)
            {
                Wildcard = true;
            }
            outcome = RequestOutcome.Initial;
        }
        else
        {
            outcome = RecordDeltaAckOrNack(nonce, nackMessage, now);
        }
        foreach (var name in subscribe)
        {
            ChangesFrom = null;
            wake = true;
            if (name == "*")
            {
                Wildcard = true;
                continue;
            }
            if (Names.Add(name))
            {
                NameBytes += ByteCountOf(name);
            }
            if (!initialVersions.ContainsKey(name))
            {
                Force.Add(name);
            }
        }
        foreach (var name in unsubscribe)
        {
            ChangesFrom = null;
            if (name == "*")
            {
                Wildcard = false;
                wake = true;
                continue;
            }
            if (Names.Remove(name))
            {
                NameBytes -= ByteCountOf(name);
            }
            Force.Remove(name);
            if (Wildcard)
            {
                // Still covered by the wildcard: the client may have dropped it, so it is answered again.
                Force.Add(name);
                wake = true;
            }
        }
        return outcome;
    }

    private RequestOutcome RecordDeltaAckOrNack(string nonce, string? nackMessage, DateTimeOffset now)
    {
        var index = _inFlight?.FindIndex(f => f.Nonce == nonce) ?? -1;
        if (index < 0)
        {
            return nonce.Length > 0 ? RequestOutcome.Stale : RequestOutcome.Request;
        }
        var (acked, version) = _inFlight![index];
        _inFlight.RemoveRange(0, index + 1);
        var latest = acked == Tracker.NonceSent;
        if (nackMessage is not null)
        {
            // Recorded; not re-sent: the client is believed to hold what was sent, so only a change sends again.
            return Tracker.Nack(version, acked, nackMessage, now) ? RequestOutcome.Nack : RequestOutcome.RepeatedNack;
        }
        Tracker.Ack(version, latest, now);
        if (latest)
        {
            _replacedSinceAck = null;
        }
        return RequestOutcome.Ack;
    }

    /// <summary>Records that <paramref name="plan"/> went out with <paramref name="nonce"/>.</summary>
    public void Sent(ResponsePlan plan, string nonce, DateTimeOffset now)
    {
        if (_deltaHeld is null)
        {
            Tracker.Sent(plan.Version, nonce, now);
        }
        else
        {
            SentDelta(plan.Version, nonce, now);
        }
    }

    /// <summary>Delta: records that a response with <paramref name="nonce"/> carrying <paramref name="version"/> went out.</summary>
    private void SentDelta(string version, string nonce, DateTimeOffset now)
    {
        Tracker.Sent(version, nonce, now);
        var inFlight = _inFlight ??= [];
        inFlight.Add((nonce, version));
        if (inFlight.Count > InFlightNonces)
        {
            inFlight.RemoveAt(0);
        }
    }

    /// <summary>Delta: the version the client holds of <paramref name="name"/> (null: told it does not exist); false if none.</summary>
    public bool TryGetHeldVersion(string name, out string? version)
    {
        if (_held.TryGetValue(name, out var resource))
        {
            version = resource.Version;
            return true;
        }
        if (ToldAbsent.Contains(name))
        {
            version = null;
            return true;
        }
        if (Claimed is not null && Claimed.TryGetValue(name, out var claimed))
        {
            version = claimed;
            return true;
        }
        version = null;
        return false;
    }

    /// <summary>Delta: every name the client holds or was told about.</summary>
    public List<string> HeldNames()
    {
        var names = new List<string>(HeldCount);
        names.AddRange(_held.Keys);
        names.AddRange(ToldAbsent);
        if (Claimed is not null)
        {
            names.AddRange(Claimed.Keys.Where(n => !_held.ContainsKey(n) && !ToldAbsent.Contains(n)));
        }
        return names;
    }

    /// <summary>Delta: the client now holds <paramref name="resource"/>; returns what it replaced, if anything.</summary>
    public EnvoyResource? Hold(EnvoyResource resource)
    {
        var held = DeltaHeld;
        held.Remove(resource.Name, out var old);
        held[resource.Name] = resource;
        _toldAbsent?.Remove(resource.Name);
        Claimed?.Remove(resource.Name);
        _retained?.Remove(resource.Name);
        return old;
    }

    /// <summary>Delta: the client was told <paramref name="name"/> does not exist (it stays subscribed).</summary>
    public EnvoyResource? HoldAbsent(string name)
    {
        DeltaHeld.Remove(name, out var old);
        (_toldAbsent ??= new(StringComparer.Ordinal)).Add(name);
        Claimed?.Remove(name);
        _retained?.Remove(name);
        return old;
    }

    /// <summary>Delta: nothing more is known about <paramref name="name"/> (not wanted any more).</summary>
    public EnvoyResource? Forget(string name)
    {
        DeltaHeld.Remove(name, out var old);
        _toldAbsent?.Remove(name);
        Claimed?.Remove(name);
        _retained?.Remove(name);
        return old;
    }

    /// <summary>Delta: the claims a reconnecting client made are settled (held, told absent, or forgotten).</summary>
    public void SettleClaims() => Claimed = null;

    /// <summary>Delta: keeps a resource the client may still hold until its next ACK (make before break).</summary>
    public void NoteReplaced(EnvoyResource old)
    {
        if (ResourceReferences.Of(old).Clusters.Count == 0)
        {
            return;
        }
        var replaced = _replacedSinceAck ??= [];
        if (replaced.Count >= MaxReplacedSinceAck)
        {
            // A client that never ACKs: the oldest is assumed superseded.
            replaced.RemoveAt(0);
        }
        replaced.Add(old);
    }

    private Dictionary<string, EnvoyResource> DeltaHeld =>
        _deltaHeld ?? throw new InvalidOperationException("not a delta subscription");

    /// <summary>The status view of this type.</summary>
    public XdsTypeStatus ToStatus()
    {
        IReadOnlyList<KeyValuePair<string, string>> held = _deltaHeld is null || Claimed is null
            ? [.. _held.Values.Select(r => KeyValuePair.Create(r.Name, r.Version))]
            : [.. _held.Values.Select(r => KeyValuePair.Create(r.Name, r.Version)).Concat(Claimed.Where(c => !_held.ContainsKey(c.Key) && !ToldAbsent.Contains(c.Key)))];
        return Tracker.ToStatus(Wildcard, Names.Count, held);
    }
}
