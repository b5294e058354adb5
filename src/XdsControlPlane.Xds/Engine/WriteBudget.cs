namespace XdsControlPlane.Xds.Engine;

/// <summary>
/// A server-wide budget of response bytes being written at once (<see cref="XdsServerOptions.WriteBudgetBytes"/>).
/// A response is serialised into the HTTP/2 stream's output buffer when its write starts and held there until the
/// client has read it; 200 Envoys reconnecting at once would otherwise hold 200 full initial pushes (megabytes each
/// at 1,000 tenants) at the same time. A write waits here until its bytes fit; a response larger than the whole
/// budget goes through alone, when nothing else is in flight. Waiters are served first come, first served, so a
/// large response is never starved by a stream of small ones.
/// </summary>
/// <remarks>
/// Every holder's write is bounded by <see cref="XdsServerOptions.WriteTimeout"/>, so a wait here is bounded too:
/// a client that stops reading is cut off at its deadline and its bytes are released.
/// </remarks>
internal sealed class WriteBudget(long capacity)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _inFlight;
    private long _highWater;

    public long Capacity { get; } = Math.Max(1, capacity);

    /// <summary>Bytes granted and not yet released.</summary>
    public long InFlight
    {
        get
        {
            lock (_gate)
            {
                return _inFlight;
            }
        }
    }

    /// <summary>The most bytes ever in flight at once.</summary>
    public long HighWater
    {
        get
        {
            lock (_gate)
            {
                return _highWater;
            }
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> fit (or the token fires); dispose the lease when the write has ended.</summary>
    public ValueTask<Lease> AcquireAsync(long bytes, CancellationToken ct)
    {
        bytes = Math.Max(0, bytes);
        Waiter waiter;
        lock (_gate)
        {
            if (_waiters.Count == 0 && Fits(bytes))
            {
                Grant(bytes);
                return ValueTask.FromResult(new Lease(this, bytes));
            }
            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }
        return WaitAsync(waiter, ct);
    }

    private async ValueTask<Lease> WaitAsync(Waiter waiter, CancellationToken ct)
    {
        await using (ct.Register(static state => ((Waiter)state!).Granted.TrySetCanceled(), waiter))
        {
            try
            {
                await waiter.Granted.Task.ConfigureAwait(false);
                return new Lease(this, waiter.Bytes);
            }
            catch (OperationCanceledException)
            {
                lock (_gate)
                {
                    // The grant lost the race to the token (TrySetResult failed): nothing was granted to give back.
                    if (waiter.Node?.List is not null)
                    {
                        // Still queued: leave the queue, and let whoever was behind it in.
                        _waiters.Remove(waiter.Node);
                        GrantWaiting();
                    }
                }
                throw new OperationCanceledException(ct);
            }
        }
    }

    private bool Fits(long bytes) => _inFlight == 0 || _inFlight + bytes <= Capacity;

    private void Grant(long bytes)
    {
        _inFlight += bytes;
        _highWater = Math.Max(_highWater, _inFlight);
    }

    private void Release(long bytes)
    {
        lock (_gate)
        {
            ReleaseLocked(bytes);
        }
    }

    private void ReleaseLocked(long bytes)
    {
        _inFlight -= bytes;
        GrantWaiting();
    }

    /// <summary>Grants queued waiters in order while the first fits (lock held).</summary>
    private void GrantWaiting()
    {
        while (_waiters.First is { } first && Fits(first.Value.Bytes))
        {
            _waiters.RemoveFirst();
            var waiter = first.Value;
            // TrySetResult fails only when the token fired first: that waiter gives nothing back, skip it.
            if (waiter.TryGrant())
            {
                Grant(waiter.Bytes);
            }
        }
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;

        public LinkedListNode<Waiter>? Node { get; set; }

        // Continuations run off the lock's thread: a granted writer must not run inside GrantWaiting.
        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool TryGrant() => Granted.TrySetResult();
    }

    /// <summary>Bytes held for one write; disposing gives them back (once).</summary>
    public sealed class Lease(WriteBudget owner, long bytes) : IDisposable
    {
        private int _released;

        public long Bytes { get; } = bytes;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(Bytes);
            }
        }
    }
}
