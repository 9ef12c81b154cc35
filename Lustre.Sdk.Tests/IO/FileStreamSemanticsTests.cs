using Lustre.Client;
using Lustre.IO;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.IO;

/// <summary>
/// Where a <see cref="LustreStream"/> could behave like a local <see cref="FileStream"/>, it does: each case runs the same
/// steps against a FileStream in a temporary folder and against the cluster, and expects the same outcome of both.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FileStreamSemanticsTests(ClusterFixture fixture) : IDisposable
{
    private readonly TempFolder _local = new("lustre-filestream-");

    private LustreClient Client => fixture.Client;

    public void Dispose() => _local.Dispose();

    [Theory]
    [InlineData(10, 4, 4)]
    [InlineData(10, 0, 0)]
    [InlineData(3, 8, 3)]
    public async Task SetLength_below_the_position_moves_the_position_to_the_new_end(int written, int length, int expected)
    {
        var dir = await fixture.NewDirectoryAsync();
        await using var local = new FileStream(Path.Combine(_local.Path, $"len-{written}-{length}"), FileMode.Create, FileAccess.ReadWrite);
        await using var remote = await Client.OpenStreamAsync($"{dir}/f", FileMode.Create, FileAccess.ReadWrite);
        foreach (Stream stream in new Stream[] { local, remote })
        {
            await stream.WriteAsync(new byte[written]);
            stream.SetLength(length);
            Assert.Equal((expected, length), (stream.Position, stream.Length));

            // The next write lands at the new position, not past a hole.
            await stream.WriteAsync("x"u8.ToArray());
            Assert.Equal(Math.Max(length, expected + 1), stream.Length);
        }

        await remote.SetLengthAsync(1);
        Assert.Equal(1, remote.Position);
    }

    [Theory]
    [InlineData(FileMode.Open, FileAccess.Read)]
    [InlineData(FileMode.OpenOrCreate, FileAccess.ReadWrite)]
    [InlineData(FileMode.Create, FileAccess.Write)]
    [InlineData(FileMode.CreateNew, FileAccess.ReadWrite)]
    public async Task Opening_below_a_missing_directory_throws_DirectoryNotFoundException(FileMode mode, FileAccess access)
    {
        var dir = await fixture.NewDirectoryAsync();

        Assert.Throws<DirectoryNotFoundException>(() => new FileStream(Path.Combine(_local.Path, "missing", "f"), mode, access).Dispose());
        var error = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => Client.OpenStreamAsync($"{dir}/missing/f", mode, access));

        Assert.Contains($"{dir}/missing/f", error.Message, StringComparison.Ordinal);
        Assert.False(await Client.ExistsAsync($"{dir}/missing"));
    }

    [Theory]
    [InlineData(FileMode.Open, FileAccess.Read)]
    [InlineData(FileMode.Create, FileAccess.Write)]
    public async Task Opening_below_a_file_throws_DirectoryNotFoundException(FileMode mode, FileAccess access)
    {
        var dir = await fixture.NewDirectoryAsync();
        await File.WriteAllBytesAsync(Path.Combine(_local.Path, "plain"), [1]);
        await (await Client.OpenStreamAsync($"{dir}/plain", FileMode.CreateNew, FileAccess.Write)).DisposeAsync();

        Assert.Throws<DirectoryNotFoundException>(() => new FileStream(Path.Combine(_local.Path, "plain", "f"), mode, access).Dispose());
        var error = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => Client.OpenStreamAsync($"{dir}/plain/f", mode, access));

        Assert.Equal(LustreErrno.ENOTDIR, Assert.IsType<LustreServerException>(error.InnerException).Errno);
    }

    [Fact]
    public async Task Opening_a_missing_file_in_an_existing_directory_throws_FileNotFoundException()
    {
        var dir = await fixture.NewDirectoryAsync();

        Assert.Throws<FileNotFoundException>(() => new FileStream(Path.Combine(_local.Path, "absent"), FileMode.Open, FileAccess.Read).Dispose());
        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => Client.OpenStreamAsync($"{dir}/absent", FileMode.Open, FileAccess.Read));

        Assert.Equal($"{dir}/absent", error.FileName);
    }

    [Theory]
    [InlineData(FileMode.Open, FileAccess.Read)]
    [InlineData(FileMode.Open, FileAccess.ReadWrite)]
    [InlineData(FileMode.OpenOrCreate, FileAccess.ReadWrite)]
    [InlineData(FileMode.Create, FileAccess.Write)]
    [InlineData(FileMode.Append, FileAccess.Write)]
    public async Task Opening_a_directory_throws_UnauthorizedAccessException(FileMode mode, FileAccess access)
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync($"{dir}/d");
        Directory.CreateDirectory(Path.Combine(_local.Path, "d"));

        Assert.Throws<UnauthorizedAccessException>(() => new FileStream(Path.Combine(_local.Path, "d"), mode, access).Dispose());
        var error = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Client.OpenStreamAsync($"{dir}/d", mode, access));

        Assert.Contains($"'{dir}/d'", error.Message, StringComparison.Ordinal);
        Assert.Equal(LustreErrno.EISDIR, Assert.IsType<LustreServerException>(error.InnerException).Errno);
        Assert.True((await Client.GetInfoAsync($"{dir}/d")).IsDirectory);
    }

    [Fact]
    public async Task CreateNew_over_a_directory_throws_IOException_and_the_root_cannot_be_opened()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync($"{dir}/d");
        Directory.CreateDirectory(Path.Combine(_local.Path, "d2"));

        Assert.IsType<IOException>(Assert.ThrowsAny<IOException>(() => new FileStream(Path.Combine(_local.Path, "d2"), FileMode.CreateNew, FileAccess.Write).Dispose()));
        Assert.Equal(LustreErrno.EEXIST, (await Assert.ThrowsAsync<LustreServerException>(() => Client.OpenStreamAsync($"{dir}/d", FileMode.CreateNew, FileAccess.Write))).Errno);
        Assert.Throws<UnauthorizedAccessException>(() => new FileStream("/", FileMode.Open, FileAccess.Read).Dispose());
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Client.OpenStreamAsync("/", FileMode.Open, FileAccess.Read));
    }

    [Fact]
    public async Task A_disposed_stream_refuses_Position_as_FileStream_does()
    {
        var dir = await fixture.NewDirectoryAsync();
        var local = new FileStream(Path.Combine(_local.Path, "disposed"), FileMode.Create, FileAccess.ReadWrite);
        var remote = await Client.OpenStreamAsync($"{dir}/disposed", FileMode.Create, FileAccess.ReadWrite);
        foreach (var stream in new Stream[] { local, remote })
        {
            await stream.WriteAsync(new byte[3]);
            await stream.DisposeAsync();
            Assert.Throws<ObjectDisposedException>(() => stream.Position);
            Assert.Throws<ObjectDisposedException>(() => stream.Position = 1);
            Assert.Throws<ObjectDisposedException>(() => stream.Length);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.FlushAsync());
        }
    }
}
