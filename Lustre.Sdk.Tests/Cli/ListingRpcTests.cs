using Lustre.Tests.Diagnostics;

namespace Lustre.Tests.Cli;

/// <summary>
/// <c>ls -l</c>, <c>lfs find</c> and <c>lfs getstripe DIR</c> read a directory's attributes with readdir-plus: a request
/// per page of entries, not a stat per entry (issue 22); find by name alone reads only the names.
/// </summary>
public sealed class ListingRpcTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    private const int Files = 40;

    [Fact]
    public async Task Ls_l_find_and_getstripe_of_a_directory_send_no_stat_per_entry()
    {
        var dir = "/listing-" + Guid.NewGuid().ToString("N");
        await cluster.Client.CreateDirectoryAsync(dir);
        await Task.WhenAll(Enumerable.Range(0, Files).Select(i => cluster.Client.CreateFileAsync($"{dir}/f{i:D2}")));
        var target = cluster.Address[..cluster.Address.IndexOf('/', StringComparison.Ordinal)];

        // find reads the attributes only when a test needs them (--size); by name alone it reads names (below).
        foreach (var command in new[] { new[] { "ls", "-l", dir }, ["lfs", "find", dir, "--size", "-1M"], ["lfs", "getstripe", dir] })
        {
            using var recorder = new TelemetryRecorder();
            var lines = (await cluster.RunAsync(command)).ShouldSucceed().Lines;

            var name = string.Join(' ', command);
            Assert.True(lines.Count(l => l.Contains("f3", StringComparison.Ordinal)) >= 10, $"{name} printed:\n{string.Join('\n', lines)}");
            Assert.Equal(1, recorder.Rpcs(target, "MdsReadDirPlus"));
            Assert.InRange(recorder.Rpcs(target, "MdsGetAttr"), 0, 1); // the argument itself, not its entries
            Assert.Equal(0, recorder.Rpcs(target, "MdsReadDir"));
        }

        using (var recorder = new TelemetryRecorder())
        {
            var lines = (await cluster.RunAsync(["lfs", "find", dir, "-name", "f3*"])).ShouldSucceed().Lines;
            Assert.Equal(10, lines.Count(l => l.Contains("/f3", StringComparison.Ordinal)));
            Assert.Equal(1, recorder.Rpcs(target, "MdsReadDir"));
            Assert.Equal(0, recorder.Rpcs(target, "MdsReadDirPlus"));
            Assert.InRange(recorder.Rpcs(target, "MdsGetAttr"), 0, 1);
        }
    }
}
