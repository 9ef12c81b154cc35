using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Server.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Security;

/// <summary>
/// Identities and permissions (issue 19): each client key acts as its uid and gids, root squashed unless trusted, and
/// the MDS enforces mode bits and ownership on lookup, create, unlink, rename, setattr and open, on a real node with
/// a key file, RocksDB and object files.
/// </summary>
public sealed class PermissionTests : IAsyncLifetime
{
    private readonly TempFolder _data = new("lustre-perms-");
    private LustreNode? _node;
    private string _address = string.Empty;
    private NamedKey _admin = null!;
    private NamedKey _alice = null!;
    private NamedKey _bob = null!;
    private NamedKey _squashed = null!;

    public async Task InitializeAsync()
    {
        var file = Path.Combine(_data.Path, "keys.json");
        KeyFile.Add(file, "srv", KeyRole.Server);
        _admin = KeyFile.Add(file, "ops", KeyRole.Admin);
        _alice = KeyFile.Add(file, "alice", KeyRole.Client, new ClientIdentity(1000, 1000, [3000]));
        _bob = KeyFile.Add(file, "bob", KeyRole.Client, new ClientIdentity(1001, 1001, []));
        _squashed = KeyFile.Add(file, "rooted", KeyRole.Client, ClientIdentity.Root);
        _node = await LustreNode.StartAsync(
            new NodeOptions { DataDirectory = Path.Combine(_data.Path, "node"), RunMgs = true, RunMds = true, RunOss = true, OstCount = 2, Keys = KeyFile.Load(file) },
            NullLoggerFactory.Instance,
            CancellationToken.None);
        _address = $"{_node.Endpoint}/{_node.FsName}";

        // The operator sets up a home for alice, as an administrator would.
        await using var admin = As(_admin);
        await admin.CreateDirectoryAsync("/users");
        await admin.CreateDirectoryAsync("/users/alice");
        await admin.SetOwnerAsync("/users/alice", 1000, 1000);
        await admin.SetModeAsync("/users/alice", (UnixFileMode)0x1ED); // 0755
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        _data.Dispose();
    }

    private LustreClient As(NamedKey key) => new(_address, new LustreClientOptions { SharedSecret = key.Secret, KeyName = key.Name, MaxAttempts = 1 });

    [Fact]
    public async Task Data_on_MDT_bytes_are_read_and_written_only_as_the_file_s_mode_allows()
    {
        var data = new byte[5000];
        Random.Shared.NextBytes(data);
        var layout = Lustre.Layouts.FileLayout.Composite([Lustre.Layouts.LayoutComponent.DataOnMdt(64 << 10)]);
        await using var alice = As(_alice);
        LustreFid fid;
        await using (var written = await alice.OpenFileAsync("/users/alice/dom", FileMode.CreateNew, layout: layout))
        {
            await written.WriteAtAsync(0, data);
            fid = written.Fid;
        }

        await alice.SetModeAsync("/users/alice/dom", (UnixFileMode)0x1A4); // 0644
        await using var bob = As(_bob);
        await using (var read = await bob.OpenFileAsync("/users/alice/dom", FileMode.Open, FileAccess.Read))
        {
            var back = new byte[data.Length];
            Assert.Equal(data.Length, await read.ReadAtAsync(0, back));
            Assert.Equal(data, back);
        }

        // Bob may not write it, even by sending the write himself; nor read it once it is 0600.
        Assert.Equal(LustreErrno.EACCES, await DomCallAsync(bob, Opcode.MdsDomWrite, w => new DomWriteRequest(fid, 0).Write(w), new byte[10], default));
        await alice.SetModeAsync("/users/alice/dom", (UnixFileMode)0x180); // 0600
        Assert.Equal(LustreErrno.EACCES, await DomCallAsync(bob, Opcode.MdsDomRead, w => new DomReadRequest(fid, 0, 100).Write(w), default, new byte[100]));
        Assert.Equal(LustreErrno.None, await DomCallAsync(alice, Opcode.MdsDomRead, w => new DomReadRequest(fid, 0, 100).Write(w), default, new byte[100]));
        Assert.Equal(LustreErrno.EACCES, await DomCallAsync(bob, Opcode.MdsDomReadBatch, w => new DomReadBatchRequest([new(fid, 0, 100)]).Write(w), default, new byte[100]));
        Assert.Equal(LustreErrno.None, await DomCallAsync(alice, Opcode.MdsDomReadBatch, w => new DomReadBatchRequest([new(fid, 0, 100)]).Write(w), default, new byte[100]));
        Assert.Equal(data.Length, (await alice.GetInfoAsync("/users/alice/dom")).Length);
    }

    private static async Task<LustreErrno> DomCallAsync(LustreClient client, Opcode opcode, Action<BodyWriter> body, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn)
    {
        await client.Session.EnsureConnectedAsync(CancellationToken.None);
        using var frame = FrameBuffer.Rent();
        body(frame.Body);
        using var reply = await client.Session.CallMdsWithBulkAsync(opcode, frame, bulkOut, bulkIn, CancellationToken.None);
        return (LustreErrno)reply.Status;
    }

    [Fact]
    public async Task Search_permission_taken_from_a_directory_on_the_path_applies_to_the_next_lookup()
    {
        await using var alice = As(_alice);
        await using var bob = As(_bob);
        await alice.CreateDirectoryAsync("/users/alice/shared");
        await alice.CreateFileAsync("/users/alice/shared/notes");

        // Bob's stats walk /users/alice and /users/alice/shared: the MDS keeps both directories' mode bits.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("notes", (await bob.GetInfoAsync("/users/alice/shared/notes")).Name);
        }

        await alice.SetModeAsync("/users/alice", (UnixFileMode)0x1C0); // 0700
        var denied = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.GetInfoAsync("/users/alice/shared/notes"));
        Assert.Contains("'/users/alice' needs search/execute permission", denied.Message, StringComparison.Ordinal);

        await alice.SetModeAsync("/users/alice", (UnixFileMode)0x1ED); // 0755 again
        Assert.Equal("notes", (await bob.GetInfoAsync("/users/alice/shared/notes")).Name);

        // An owner change counts as well: the directory now belongs to bob, who gave himself no search bit.
        await using var admin = As(_admin);
        await admin.SetModeAsync("/users/alice/shared", (UnixFileMode)0x1BF); // 0677: the owner has no search bit, others have
        await admin.SetOwnerAsync("/users/alice/shared", 1001, 1001);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.GetInfoAsync("/users/alice/shared/notes"));
        Assert.Equal("notes", (await alice.GetInfoAsync("/users/alice/shared/notes")).Name);
    }

    [Fact]
    public async Task A_second_identity_cannot_read_a_0600_file_nor_unlink_create_or_rename_in_a_directory_it_cannot_write()
    {
        var secret = new byte[3 << 20];
        Random.Shared.NextBytes(secret);
        await using var alice = As(_alice);
        await using (var written = await alice.OpenFileAsync("/users/alice/secret", FileMode.CreateNew))
        {
            await written.WriteAtAsync(0, secret);
        }

        var info = await alice.SetModeAsync("/users/alice/secret", (UnixFileMode)0x180); // 0600
        Assert.Equal(1000u, info.UserId);
        Assert.Equal(1000u, info.GroupId);

        await using var bob = As(_bob);

        // Bob may look (the directory is 0755), but not open it for reading or writing.
        Assert.Equal((UnixFileMode)0x180, (await bob.GetInfoAsync("/users/alice/secret")).Mode);
        var read = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.OpenFileAsync("/users/alice/secret", FileMode.Open, FileAccess.Read));
        Assert.Contains("needs read permission, which uid 1001", read.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.OpenFileAsync("/users/alice/secret", FileMode.Open, FileAccess.Write));

        // Nor unlink, create or rename in alice's directory, nor change the file's mode or owner.
        var unlink = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.DeleteFileAsync("/users/alice/secret"));
        Assert.Contains("'/users/alice' needs write and search/execute permission", unlink.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.CreateFileAsync("/users/alice/planted"));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.CreateDirectoryAsync("/users/alice/planted"));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.RenameAsync("/users/alice/secret", "/users/alice/moved"));
        var chmod = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.SetModeAsync("/users/alice/secret", (UnixFileMode)0x1FF));
        Assert.Contains("only the owner (uid 1000) or root", chmod.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.SetOwnerAsync("/users/alice/secret", 1001, null));

        // Root on a client key is squashed to nobody: no better than bob, and no write in the root directory.
        await using var rooted = As(_squashed);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => rooted.OpenFileAsync("/users/alice/secret", FileMode.Open, FileAccess.Read));
        var mkdir = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => rooted.CreateDirectoryAsync("/planted"));
        Assert.Contains("uid 65534", mkdir.Message, StringComparison.Ordinal);

        // Nothing changed: the file is where it was, whole, and its owner reads it back.
        Assert.False(await alice.ExistsAsync("/users/alice/planted"));
        Assert.False(await alice.ExistsAsync("/users/alice/moved"));
        Assert.Equal((UnixFileMode)0x180, (await alice.GetInfoAsync("/users/alice/secret")).Mode);
        await using (var back = await alice.OpenFileAsync("/users/alice/secret", FileMode.Open, FileAccess.Read))
        {
            var bytes = new byte[secret.Length];
            Assert.Equal(secret.Length, await back.ReadAtAsync(0, bytes));
            Assert.Equal(secret, bytes);
        }

        // Opened up by its owner, bob may read it, and only read it.
        await alice.SetModeAsync("/users/alice/secret", (UnixFileMode)0x1A4); // 0644
        await using (var shared = await bob.OpenFileAsync("/users/alice/secret", FileMode.Open, FileAccess.Read))
        {
            Assert.Equal(secret.Length, await shared.ReadAtAsync(0, new byte[secret.Length]));
        }

        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.OpenFileAsync("/users/alice/secret", FileMode.Open, FileAccess.ReadWrite));
    }

    [Fact]
    public async Task A_search_permission_missing_on_the_path_hides_everything_below_and_owners_give_files_only_to_their_groups()
    {
        await using var alice = As(_alice);
        await alice.CreateDirectoryAsync("/users/alice/private");
        await alice.CreateFileAsync("/users/alice/private/notes");
        await alice.SetModeAsync("/users/alice/private", (UnixFileMode)0x1C0); // 0700

        await using var bob = As(_bob);
        var stat = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.GetInfoAsync("/users/alice/private/notes"));
        Assert.Contains("'/users/alice/private' needs search/execute permission", stat.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(async () =>
        {
            await foreach (var entry in bob.EnumerateDirectoryAsync("/users/alice/private"))
            {
                Assert.Fail($"bob listed {entry.Name}");
            }
        });

        // chgrp: alice may give her file to a group she is in (3000), not to bob's; only root gives it to another user.
        Assert.Equal(3000u, (await alice.SetOwnerAsync("/users/alice/private/notes", null, 3000)).GroupId);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => alice.SetOwnerAsync("/users/alice/private/notes", null, 1001));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => alice.SetOwnerAsync("/users/alice/private/notes", 1001, null));
        await using var admin = As(_admin);
        Assert.Equal(1001u, (await admin.SetOwnerAsync("/users/alice/private/notes", 1001, null)).UserId);
    }

    [Fact]
    public async Task In_a_sticky_directory_only_an_entrys_owner_removes_it()
    {
        await using var admin = As(_admin);
        await admin.CreateDirectoryAsync("/scratch");
        await admin.SetModeAsync("/scratch", (UnixFileMode)0x3FF); // 01777, as /tmp

        await using var alice = As(_alice);
        await using var bob = As(_bob);
        await bob.CreateFileAsync("/scratch/bobs");
        var info = await bob.GetInfoAsync("/scratch/bobs");
        Assert.Equal(1001u, info.UserId);

        var refused = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => alice.DeleteFileAsync("/scratch/bobs"));
        Assert.Contains("is sticky", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => alice.RenameAsync("/scratch/bobs", "/scratch/alices"));
        Assert.True(await bob.ExistsAsync("/scratch/bobs"));

        await bob.DeleteFileAsync("/scratch/bobs");
        Assert.False(await bob.ExistsAsync("/scratch/bobs"));
    }

    [Fact]
    public async Task A_close_or_setattr_naming_a_file_its_sender_may_not_write_changes_nothing()
    {
        await using var alice = As(_alice);
        var made = await alice.CreateFileAsync("/users/alice/sized"); // 0644: bob may read it, not write it

        // The MDS keeps no per-client open handles, so a close with a size is checked as a setattr is.
        var settings = new RpcConnectionSettings("raw-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), _bob.Secret, NullLogger.Instance, KeyName: _bob.Name);
        await using var connection = await RpcConnection.ConnectAsync(_node!.Endpoint, settings, CancellationToken.None);
        foreach (var (opcode, write) in new (Opcode, Action<BodyWriter>)[]
        {
            (Opcode.MdsClose, w => new CloseRequest(made.Fid, Writer: true, Size: 1L << 40, ModifyTimeNs: 1).Write(w)),
            (Opcode.MdsSetAttr, w => new SetAttrRequest(made.Fid, SetAttrMask.SizeAtLeast, 1L << 40, 0, 0, 0, 0, 0).Write(w)),
        })
        {
            using var frame = FrameBuffer.Rent();
            write(frame.Body);
            using var reply = await connection.CallAsync(opcode, frame, default, default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EACCES, reply.Status);
        }

        Assert.Equal(0, (await alice.GetInfoAsync("/users/alice/sized")).Length);
    }

    [Fact]
    public async Task A_listing_with_attributes_needs_read_and_search_and_a_batch_is_refused_path_by_path()
    {
        await using var alice = As(_alice);
        await alice.CreateDirectoryAsync("/users/alice/listable");
        await using (var x = await alice.OpenFileAsync("/users/alice/listable/x", FileMode.CreateNew))
        {
            await x.WriteAtAsync(0, "x"u8.ToArray());
        }

        await alice.SetModeAsync("/users/alice/listable", (UnixFileMode)0x1E4); // 0744: others may list names, not stat them
        await alice.CreateDirectoryAsync("/users/alice/searchable");
        await using (var y = await alice.OpenFileAsync("/users/alice/searchable/y", FileMode.CreateNew))
        {
            await y.WriteAtAsync(0, "why"u8.ToArray());
        }

        await alice.CreateFileAsync("/users/alice/searchable/hidden");
        await alice.SetModeAsync("/users/alice/searchable/hidden", (UnixFileMode)0x180); // 0600
        await alice.SetModeAsync("/users/alice/searchable", (UnixFileMode)0x1C9); // 0711: others may stat names they know, not list them

        await using var bob = As(_bob);

        // Names alone need read; names with attributes need read and search, as ls -l does.
        var names = new List<string>();
        await foreach (var entry in bob.EnumerateDirectoryAsync("/users/alice/listable"))
        {
            names.Add(entry.Name);
        }

        Assert.Equal(["x"], names);
        var unsearchable = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => ListWithAttributesAsync(bob, "/users/alice/listable"));
        Assert.Contains("'/users/alice/listable' needs read and search/execute permission, which uid 1001", unsearchable.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => ListWithAttributesAsync(bob, "/users/alice/searchable"));
        Assert.Equal(["x"], await ListWithAttributesAsync(alice, "/users/alice/listable"));
        Assert.Equal(["hidden", "y"], await ListWithAttributesAsync(alice, "/users/alice/searchable"));

        // A batch tells bob exactly what one getattr each would: no more.
        var results = await bob.GetInfoAsync(["/users/alice/listable/x", "/users/alice/searchable/y", "/users/alice/nothing", "/users/alice/searchable/hidden"]);
        Assert.Contains("'/users/alice/listable' needs search/execute permission", Assert.IsType<UnauthorizedAccessException>(results[0].Error).Message, StringComparison.Ordinal);
        Assert.Equal(3, results[1].Info!.Length);
        Assert.IsType<FileNotFoundException>(results[2].Error);
        Assert.Equal((UnixFileMode)0x180, results[3].Info!.Mode);

        // Opened in a batch, a file bob may read comes with a read capability the OSS accepts; a 0600 one is refused.
        var opened = Assert.Single(await bob.OpenFilesAsync(["/users/alice/searchable/y"]));
        Assert.Equal(CapabilityRights.Read, opened.Capability!.Rights);
        var bytes = new byte[3];
        Assert.Equal(3, await opened.ReadAtAsync(0, bytes));
        Assert.Equal("why"u8.ToArray(), bytes);
        var denied = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.OpenFilesAsync(["/users/alice/searchable/y", "/users/alice/searchable/hidden"]));
        Assert.Contains("needs read permission, which uid 1001", denied.Message, StringComparison.Ordinal);
    }

    private static async Task<List<string>> ListWithAttributesAsync(LustreClient client, string path)
    {
        var names = new List<string>();
        await foreach (var info in client.EnumerateFileInfosAsync(path))
        {
            names.Add(info.Name);
        }

        return names;
    }
}
