namespace Lustre.Tests.Rpc;

/// <summary>
/// Tests that judge latency run alone, not beside other test classes: the machine has two cores, and a parallel
/// test's CPU would show up in the measured tail, not the code under test.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "Timing";
}
