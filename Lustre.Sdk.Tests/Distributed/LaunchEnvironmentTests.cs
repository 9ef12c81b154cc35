using Lustre.Distributed;
using Variables = System.Collections.Generic.Dictionary<string, string>;

namespace Lustre.Tests.Distributed;

/// <summary>
/// Rank and world size from an explicit option, else torchrun, else Slurm, else Open MPI, else 0 of 1 — against a
/// dictionary as the environment, so these tests never touch the process's variables (which other tests read).
/// </summary>
public sealed class LaunchEnvironmentTests
{
    private static readonly Variables Torchrun = new() { ["RANK"] = "5", ["WORLD_SIZE"] = "8", ["LOCAL_RANK"] = "1" };
    private static readonly Variables Slurm = new() { ["SLURM_PROCID"] = "3", ["SLURM_NTASKS"] = "4", ["SLURM_LOCALID"] = "3" };
    private static readonly Variables OpenMpi = new() { ["OMPI_COMM_WORLD_RANK"] = "1", ["OMPI_COMM_WORLD_SIZE"] = "2", ["OMPI_COMM_WORLD_LOCAL_RANK"] = "1" };

    private static Func<string, string?> Environment(params Variables[] launchers)
    {
        var all = new Variables();
        foreach (var launcher in launchers)
        {
            foreach (var (name, value) in launcher)
            {
                all[name] = value;
            }
        }

        return name => all.GetValueOrDefault(name);
    }

    [Fact]
    public void Torchrun_wins_over_Slurm_which_wins_over_Open_MPI_and_none_gives_rank_0_of_1()
    {
        Assert.Equal((5, 8), Pair(LaunchEnvironment.Resolve(null, null, Environment(OpenMpi, Slurm, Torchrun))));
        Assert.Equal((3, 4), Pair(LaunchEnvironment.Resolve(null, null, Environment(OpenMpi, Slurm))));
        Assert.Equal((1, 2), Pair(LaunchEnvironment.Resolve(null, null, Environment(OpenMpi))));
        Assert.Equal((0, 1), Pair(LaunchEnvironment.Resolve(null, null, Environment())));
    }

    [Fact]
    public void Explicit_values_win_and_the_environment_is_then_not_read()
    {
        var read = new List<string>();
        var broken = Environment(new Variables { ["RANK"] = "x", ["WORLD_SIZE"] = "y", ["SLURM_PROCID"] = "z" });

        var launch = LaunchEnvironment.Resolve(2, 4, name =>
        {
            read.Add(name);
            return broken(name);
        });

        Assert.Equal((2, 4), Pair(launch));
        Assert.Empty(read);
    }

    [Fact]
    public void An_explicit_rank_takes_the_world_size_from_the_launcher_and_ignores_its_rank_variable()
    {
        var launch = LaunchEnvironment.Resolve(1, null, Environment(new Variables { ["SLURM_PROCID"] = "not a number", ["SLURM_NTASKS"] = "4" }));

        Assert.Equal((1, 4), Pair(launch));
        Assert.Equal("from SLURM_NTASKS=4", launch.WorldSizeSource);
    }

    [Fact]
    public void Both_values_come_from_one_launcher_never_one_from_each()
    {
        // srun torchrun: Slurm counts one agent per node, torchrun the workers; torchrun's RANK without WORLD_SIZE
        // must not borrow Slurm's task count.
        var launch = LaunchEnvironment.Resolve(null, null, Environment(Slurm, new Variables { ["RANK"] = "5" }));

        Assert.Equal((5, 1), Pair(launch));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => launch.Validate(maxWorldSize: 65536));
        Assert.Equal("Rank", error.ParamName);
        Assert.Contains("from RANK=5", error.Message, StringComparison.Ordinal);
        Assert.Contains("WORLD_SIZE is not set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_variable_counts_as_unset()
    {
        var launch = LaunchEnvironment.Resolve(null, null, Environment(Slurm, new Variables { ["RANK"] = string.Empty, ["WORLD_SIZE"] = string.Empty }));

        Assert.Equal((3, 4), Pair(launch));
    }

    [Theory]
    [InlineData("RANK", "two", "Rank")]
    [InlineData("WORLD_SIZE", "8 ranks", "WorldSize")]
    [InlineData("SLURM_NTASKS", "4(x2)", "WorldSize")]
    [InlineData("OMPI_COMM_WORLD_RANK", "1.0", "Rank")]
    public void A_set_variable_that_is_not_an_integer_is_an_error_naming_it(string name, string value, string option)
    {
        var launchers = name.StartsWith("SLURM_", StringComparison.Ordinal) ? new[] { Slurm } : name.StartsWith("OMPI_", StringComparison.Ordinal) ? [OpenMpi] : [Torchrun];
        var environment = Environment([.. launchers, new Variables { [name] = value }]);

        var error = Assert.Throws<ArgumentException>(() => LaunchEnvironment.Resolve(null, null, environment));

        Assert.Equal(option, error.ParamName);
        Assert.Contains($"{name}='{value}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rank_outside_the_world_names_where_both_came_from()
    {
        var launch = LaunchEnvironment.Resolve(null, null, Environment(new Variables { ["SLURM_PROCID"] = "4", ["SLURM_NTASKS"] = "4" }));

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => launch.Validate(maxWorldSize: 65536));

        Assert.Equal("Rank", error.ParamName);
        Assert.Contains("(from SLURM_PROCID=4) must be between 0 and 3 for a world size of 4 (from SLURM_NTASKS=4)", error.Message, StringComparison.Ordinal);
        Assert.Equal("WorldSize", Assert.Throws<ArgumentOutOfRangeException>(() => LaunchEnvironment.Resolve(null, 0, Environment()).Validate(65536)).ParamName);
        Assert.Equal("WorldSize", Assert.Throws<ArgumentOutOfRangeException>(() => LaunchEnvironment.Resolve(null, null, Environment(new Variables { ["OMPI_COMM_WORLD_SIZE"] = "70000" })).Validate(65536)).ParamName);
    }

    private static (int, int) Pair(LaunchEnvironment launch) => (launch.Rank, launch.WorldSize);
}
