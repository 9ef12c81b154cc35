using Lustre.Client;

namespace Lustre.Tests.Client;

/// <summary>The bound on RPCs in flight that set_param osc.*.max_rpcs_in_flight changes while RPCs hold it.</summary>
public sealed class RpcAllowanceTests
{
    /// <summary>Takes every slot free now; a wait that finds none is cancelled, so it takes no slot later.</summary>
    private static async Task<int> TakeAllAsync(RpcAllowance allowance)
    {
        var taken = 0;
        while (true)
        {
            using var none = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            try
            {
                await allowance.WaitAsync(none.Token);
                taken++;
            }
            catch (OperationCanceledException)
            {
                return taken;
            }
        }
    }

    [Fact]
    public async Task A_raised_bound_frees_slots_at_once()
    {
        var allowance = new RpcAllowance(2);
        Assert.True(allowance.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
        Assert.True(allowance.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);

        allowance.SetLimit(5);

        Assert.Equal(5, allowance.Limit);
        Assert.Equal(3, await TakeAllAsync(allowance));
    }

    [Fact]
    public async Task A_lowered_bound_takes_free_slots_at_once_and_the_rest_from_RPCs_as_they_finish()
    {
        var allowance = new RpcAllowance(8);
        for (var i = 0; i < 6; i++)
        {
            await allowance.WaitAsync(CancellationToken.None);
        }

        // 6 in flight, 2 free; the bound drops to 3: the 2 free go at once, and 3 are owed by the RPCs in flight.
        allowance.SetLimit(3);
        Assert.Equal(0, await TakeAllAsync(allowance));
        for (var i = 0; i < 3; i++)
        {
            allowance.Release();
        }

        Assert.Equal(0, await TakeAllAsync(allowance));

        // 3 in flight now, the new bound: the next one to finish frees a slot.
        allowance.Release();
        Assert.Equal(1, await TakeAllAsync(allowance));
    }

    [Fact]
    public async Task After_the_RPCs_in_flight_finish_exactly_the_new_bound_is_free()
    {
        var allowance = new RpcAllowance(8);
        for (var i = 0; i < 8; i++)
        {
            await allowance.WaitAsync(CancellationToken.None);
        }

        allowance.SetLimit(2);
        for (var i = 0; i < 8; i++)
        {
            allowance.Release();
        }

        Assert.Equal(2, await TakeAllAsync(allowance));
    }

    [Fact]
    public async Task Raising_the_bound_again_first_forgives_what_RPCs_still_owed()
    {
        var allowance = new RpcAllowance(4);
        for (var i = 0; i < 4; i++)
        {
            await allowance.WaitAsync(CancellationToken.None);
        }

        allowance.SetLimit(1); // 3 owed
        allowance.SetLimit(4); // forgiven, nothing freed
        for (var i = 0; i < 4; i++)
        {
            allowance.Release();
        }

        Assert.Equal(4, await TakeAllAsync(allowance));
    }
}
