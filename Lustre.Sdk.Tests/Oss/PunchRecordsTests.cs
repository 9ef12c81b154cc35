using Lustre.Server.Oss;

namespace Lustre.Tests.Oss;

/// <summary>The OST's log of applied punches: kept across a reopen, bounded, and whole records only after a torn append.</summary>
public sealed class PunchRecordsTests : IDisposable
{
    private readonly TempFolder _directory = new("lustre-punches-");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Records_survive_a_reopen_the_oldest_go_first_and_a_torn_tail_is_ignored()
    {
        using (var records = new PunchRecords(_directory.Path, capacity: 4))
        {
            for (ulong xid = 1; xid <= 10; xid++)
            {
                records.Add("client-a", xid);
            }

            records.Add("client-b", 3);
            Assert.False(records.Contains("client-a", 6));
            Assert.True(records.Contains("client-a", 10));
            Assert.True(records.Contains("client-b", 3));
            Assert.False(records.Contains("client-a", 11));
        }

        // A crash in the middle of an append leaves part of a record.
        File.AppendAllText(Path.Combine(_directory.Path, "punches.log"), "\u0008\u0000clie");

        using var reopened = new PunchRecords(_directory.Path, capacity: 4);
        Assert.True(reopened.Contains("client-a", 10));
        Assert.True(reopened.Contains("client-b", 3));
        Assert.False(reopened.Contains("client-a", 6));
        Assert.True(new FileInfo(Path.Combine(_directory.Path, "punches.log")).Length < 200, "the log was not compacted to the records kept");
    }
}
