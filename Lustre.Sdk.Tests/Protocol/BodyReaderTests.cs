using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Tests.Protocol;

public class BodyReaderTests
{
    [Theory]
    [InlineData("u8", 0)]
    [InlineData("bool", 0)]
    [InlineData("u16", 1)]
    [InlineData("i32", 3)]
    [InlineData("u32", 3)]
    [InlineData("i64", 7)]
    [InlineData("u64", 7)]
    [InlineData("string", 1)]
    [InlineData("bytes", 3)]
    public void Truncated_field_throws_naming_the_field(string kind, int available)
    {
        var bytes = new byte[available];

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(bytes);
            _ = kind switch
            {
                "u8" => reader.ReadByte("the_field"),
                "bool" => reader.ReadBoolean("the_field") ? 1 : 0,
                "u16" => reader.ReadUInt16("the_field"),
                "i32" => reader.ReadInt32("the_field"),
                "u32" => reader.ReadUInt32("the_field"),
                "i64" => reader.ReadInt64("the_field"),
                "u64" => (long)reader.ReadUInt64("the_field"),
                "string" => reader.ReadString("the_field", 100).Length,
                "bytes" => reader.ReadBytes("the_field", 100).Length,
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
        });

        Assert.Contains("'the_field'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void String_whose_bytes_are_missing_throws_naming_the_field()
    {
        byte[] bytes = [5, 0, (byte)'a', (byte)'b'];

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadString("path", 100));

        Assert.Contains("'path'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void String_longer_than_its_limit_throws_before_reading_it()
    {
        byte[] bytes = [6, 0, .. "abcdef"u8];

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadString("fsname", 5));

        Assert.Contains("'fsname'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("limit of 5", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void String_exactly_at_its_limit_is_read()
    {
        byte[] bytes = [5, 0, .. "abcde"u8];
        var reader = new BodyReader(bytes);

        Assert.Equal("abcde", reader.ReadString("fsname", 5));
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]              // a lead byte followed by a non-continuation
    [InlineData(new byte[] { 0xFF })]                    // never valid in UTF-8
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]        // an encoded UTF-16 surrogate
    [InlineData(new byte[] { 0xC0, 0xAF })]              // an overlong encoding of '/'
    public void String_that_is_not_valid_utf8_throws_naming_the_field(byte[] text)
    {
        byte[] bytes = [(byte)text.Length, 0, .. text];

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadString("name", 255));

        Assert.Contains("'name'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("UTF-8", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Multibyte_utf8_string_round_trips()
    {
        using var frame = FrameBuffer.Rent();
        frame.Body.WriteString("données/文件-🦀");
        var reader = new BodyReader(frame.Written.Span[FrameHeader.Size..]);

        Assert.Equal("données/文件-🦀", reader.ReadString("path", 4096));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(255)]
    public void Boolean_other_than_0_or_1_throws_naming_the_field(byte value)
    {
        byte[] bytes = [value];

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadBoolean("auth_required"));

        Assert.Contains("'auth_required'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_with_a_count_larger_than_what_remains_throws()
    {
        byte[] bytes = [100, 0, 0, 0, 1, 2, 3, 4];

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadBytes("layout", 1000));

        Assert.Contains("'layout'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(33)]
    public void Bytes_with_a_negative_or_over_limit_count_throws(int count)
    {
        var bytes = new byte[4 + 64];
        BitConverter.TryWriteBytes(bytes, count);

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadBytes("nonce", 32));

        Assert.Contains("'nonce'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("limit is 32", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Item_count_larger_than_the_remaining_bytes_allow_throws()
    {
        // Five entries of at least 19 bytes cannot fit in 20 bytes: refuse before allocating five.
        byte[] bytes = [5, 0, 0, 0, .. new byte[20]];

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadCount("entries", 1024, 19));

        Assert.Contains("'entries'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1025)]
    public void Item_count_negative_or_over_its_limit_throws(int count)
    {
        var bytes = new byte[4 + (1100 * 19)];
        BitConverter.TryWriteBytes(bytes, count);

        var ex = Assert.Throws<ProtocolException>(() => new BodyReader(bytes).ReadCount("entries", 1024, 19));

        Assert.Contains("'entries'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Item_count_that_fits_is_returned()
    {
        byte[] bytes = [2, 0, 0, 0, .. new byte[38]];

        Assert.Equal(2, new BodyReader(bytes).ReadCount("entries", 1024, 19));
    }

    [Fact]
    public void ReadDir_reply_claiming_more_entries_than_its_body_holds_throws()
    {
        using var frame = FrameBuffer.Rent();
        frame.Body.WriteInt32(1000);
        frame.Body.WriteBoolean(true);
        var body = frame.Written[FrameHeader.Size..].ToArray();

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            ReadDirReply.Read(ref reader);
        });

        Assert.Contains("'entries'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("readdir-plus")]
    [InlineData("batch request")]
    [InlineData("batch reply")]
    public void Batched_metadata_claiming_more_items_than_its_body_holds_throws(string message)
    {
        using var frame = FrameBuffer.Rent();
        if (message == "batch request")
        {
            frame.Body.WriteUInt32(0);
        }

        frame.Body.WriteInt32(1000);
        frame.Body.WriteBoolean(true);
        var body = frame.Written[FrameHeader.Size..].ToArray();

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            _ = message switch
            {
                "readdir-plus" => (object)ReadDirPlusReply.Read(ref reader),
                "batch request" => GetAttrBatchRequest.Read(ref reader),
                _ => GetAttrBatchReply.Read(ref reader),
            };
        });

        Assert.Contains(message switch { "readdir-plus" => "'entries'", "batch request" => "'paths'", _ => "'results'" }, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Filesystem_config_claiming_more_targets_than_its_body_holds_throws()
    {
        using var frame = FrameBuffer.Rent();
        frame.Body.WriteString("lustre");
        frame.Body.WriteUInt64(1);
        frame.Body.WriteInt64(1 << 20);
        frame.Body.WriteInt32(1);
        frame.Body.WriteInt32(4096);
        var body = frame.Written[FrameHeader.Size..].ToArray();

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            FilesystemConfig.Read(ref reader);
        });

        Assert.Contains("'targets'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inode_attributes_with_an_unknown_entry_type_throw()
    {
        using var frame = FrameBuffer.Rent();
        LustreFid.Root.Write(frame.Body);
        frame.Body.WriteByte(7);
        var body = frame.Written[FrameHeader.Size..].ToArray();

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            InodeAttributes.Read(ref reader);
        });

        Assert.Contains("entry type 7", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Target_record_with_an_unknown_kind_throws()
    {
        byte[] body = [9, 0, 0, 0, 0, 0, 0, 0];

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            TargetRecord.Read(ref reader);
        });

        Assert.Contains("target kind 9", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_advance_through_the_body_in_order()
    {
        byte[] bytes = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
        var reader = new BodyReader(bytes);

        Assert.Equal(0x01, reader.ReadByte("a"));
        Assert.Equal(0x0302, reader.ReadUInt16("b"));
        Assert.Equal(0x07060504u, reader.ReadUInt32("c"));
        Assert.Equal(0, reader.Remaining);
    }
}
