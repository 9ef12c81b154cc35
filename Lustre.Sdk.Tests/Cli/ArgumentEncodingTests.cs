using System.Text;
using Lustre.Cli;

namespace Lustre.Tests.Cli;

public sealed class ArgumentEncodingTests
{
    private static byte[] CommandLine(params byte[][] argv) => [.. argv.SelectMany(a => a.Append((byte)0))];

    [Fact]
    public void The_raw_bytes_decide_where_they_are_known()
    {
        var host = Encoding.UTF8.GetBytes("dotnet");
        var dll = Encoding.UTF8.GetBytes("lustre.dll");
        var ls = Encoding.UTF8.GetBytes("ls");

        // A name that really holds U+FFFD is a name like any other.
        Assert.Null(ArgumentEncoding.FindInvalid(["ls", "/a\uFFFD"], CommandLine(host, dll, ls, Encoding.UTF8.GetBytes("/a\uFFFD"))));
        Assert.Equal((2, "/caf\u00E9\\xFF"), ArgumentEncoding.FindInvalid(["ls", "/caf\u00E9\uFFFD"], CommandLine(host, dll, ls, [.. "/caf"u8, 0xC3, 0xA9, 0xFF])));
    }

    [Fact]
    public void Without_the_raw_bytes_a_replacement_character_is_refused()
    {
        Assert.Equal((2, "/a\uFFFD"), ArgumentEncoding.FindInvalid(["ls", "/a\uFFFD"], null));
        Assert.Null(ArgumentEncoding.FindInvalid(["ls", "/a"], null));
    }
}
