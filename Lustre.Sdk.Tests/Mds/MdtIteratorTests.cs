using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>Iterators bounded to a key prefix: they end with the prefix, never walking on into the key spaces after it.</summary>
public sealed class MdtIteratorTests
{
    [Theory]
    [InlineData(new byte[] { (byte)'Q' }, new byte[] { (byte)'R' })]
    [InlineData(new byte[] { 1, 2, 0xFF }, new byte[] { 1, 3 })]
    [InlineData(new byte[] { 1, 0xFF, 0xFF }, new byte[] { 2 })]
    public void A_prefix_ends_at_its_last_byte_below_0xFF_raised_by_one(byte[] prefix, byte[] end) =>
        Assert.Equal(end, MdtKeys.PrefixEnd(prefix));

    [Fact]
    public void A_prefix_of_only_0xFF_bytes_has_no_end() => Assert.Null(MdtKeys.PrefixEnd([0xFF, 0xFF]));

    [Fact]
    public async Task A_bounded_iterator_sees_the_live_keys_of_its_prefix_and_nothing_after()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"lustre-iterator-{Guid.NewGuid():n}");
        try
        {
            using var store = new MdtStore(directory);
            await store.ChangeAsync(tx =>
            {
                tx.Put("Qa"u8, [1]);
                tx.Put("Qb"u8, [1]);
                tx.Put("Qc"u8, [1]);
                tx.Put("Ra"u8, [1]);
                tx.Put("Rb"u8, [1]);
                return true;
            });
            await store.ChangeAsync(tx =>
            {
                tx.Delete("Qc"u8);
                tx.Delete("Ra"u8);
                return true;
            });

            // No prefix check in the loop: the bound alone must end it.
            var seen = new List<string>();
            using (var iterator = store.NewIterator("Q"u8))
            {
                for (iterator.Seek("Q"u8.ToArray()); iterator.Valid(); iterator.Next())
                {
                    seen.Add(System.Text.Encoding.ASCII.GetString(iterator.Key()));
                }
            }

            using var unbounded = store.NewIterator();
            unbounded.Seek("Qb"u8.ToArray());
            unbounded.Next();

            Assert.Equal(["Qa", "Qb"], seen);
            Assert.Equal("Rb", System.Text.Encoding.ASCII.GetString(unbounded.Key()));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
