namespace Lustre.Client;

/// <summary>
/// A bound on RPCs in flight that can be changed while RPCs hold it (<c>lctl set_param osc.*.max_rpcs_in_flight</c>). A
/// raised bound frees slots at once; a lowered one takes free slots back at once and the rest from RPCs as they finish,
/// so the number in flight falls to the new bound as the RPCs sent under the old one complete.
/// </summary>
internal sealed class RpcAllowance
{
    private readonly SemaphoreSlim _slots;
    private readonly Lock _lock = new();
    private int _limit;

    // Slots to take back from RPCs that finish, after the bound was lowered below the RPCs holding it.
    private int _owed;

    public RpcAllowance(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        _limit = limit;
        _slots = new SemaphoreSlim(limit, int.MaxValue);
    }

    public int Limit => Volatile.Read(ref _limit);

    public Task WaitAsync(CancellationToken cancellationToken) => _slots.WaitAsync(cancellationToken);

    public void Release()
    {
        if (Volatile.Read(ref _owed) > 0)
        {
            lock (_lock)
            {
                if (_owed > 0)
                {
                    _owed--;
                    return;
                }
            }
        }

        _slots.Release();
    }

    public void SetLimit(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        lock (_lock)
        {
            var change = limit - _limit;
            _limit = limit;
            if (change > 0)
            {
                var repaid = Math.Min(_owed, change);
                _owed -= repaid;
                if (change > repaid)
                {
                    _slots.Release(change - repaid);
                }

                return;
            }

            var owed = -change;
            while (owed > 0 && _slots.Wait(0))
            {
                owed--;
            }

            _owed += owed;
        }
    }
}
