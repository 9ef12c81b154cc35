using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Server.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Security;

/// <summary>
/// OST capabilities (issue 19): with a key file, a client key reads, writes and punches an object only with a
/// capability the MDS signed at open for that key, that object and those rights, before it expires. Requests sent
/// straight to the OSS over a real connection, past the SDK, are refused otherwise; the SDK renews its own.
/// </summary>
public sealed class CapabilityTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-capa-");

    public void Dispose() => _data.Dispose();

    private static LustreClientOptions As(NamedKey key) => new() { SharedSecret = key.Secret, KeyName = key.Name, MaxAttempts = 1 };

    private async Task<(LustreNode Node, string Address, IReadOnlyList<NamedKey> Keys)> StartAsync(TimeSpan lifetime)
    {
        var file = Path.Combine(_data.Path, "keys.json");
        KeyFile.Add(file, "srv", KeyRole.Server);
        KeyFile.Add(file, "ops", KeyRole.Admin);
        KeyFile.Add(file, "alice", KeyRole.Client, new ClientIdentity(1000, 1000, []));
        KeyFile.Add(file, "bob", KeyRole.Client, new ClientIdentity(1001, 1001, []));
        var keys = KeyFile.Load(file);
        var node = await LustreNode.StartAsync(
            new NodeOptions { DataDirectory = Path.Combine(_data.Path, "node"), RunMgs = true, RunMds = true, RunOss = true, OstCount = 2, Keys = keys, CapabilityLifetime = lifetime },
            NullLoggerFactory.Instance,
            CancellationToken.None);
        var address = $"{node.Endpoint}/{node.FsName}";
        await using var admin = new LustreClient(address, As(keys.Single(k => k.Name == "ops")));
        await admin.CreateDirectoryAsync("/alice");
        await admin.SetOwnerAsync("/alice", 1000, 1000);
        return (node, address, keys);
    }

    [Fact]
    public async Task A_forged_expired_missing_borrowed_or_too_weak_capability_is_refused_by_the_OSS_and_a_signed_one_is_accepted()
    {
        var (node, address, keys) = await StartAsync(CapabilityKeys.DefaultLifetime);
        await using var _ = node;
        var alice = keys.Single(k => k.Name == "alice");
        var data = new byte[2 << 20];
        Random.Shared.NextBytes(data);
        OstObject[] objects;
        await using (var client = new LustreClient(address, As(alice)))
        await using (var file = await client.OpenFileAsync("/alice/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 2)))
        {
            await file.WriteAtAsync(0, data);
            objects = [.. file.Layout.AllObjects()];
            Assert.NotNull(file.Capability);
            Assert.Equal(CapabilityRights.Read | CapabilityRights.Write, file.Capability!.Rights);
        }

        // The test holds the key file, so it can sign as the MDS would: the only way to a capability that verifies.
        var signer = CapabilityKeys.From(keys, CapabilityKeys.DefaultLifetime)!;
        var first = objects[0];
        var second = objects[1];
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var settings = new RpcConnectionSettings("raw-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), alice.Secret, NullLogger.Instance, KeyName: alice.Name);
        await using var connection = await RpcConnection.ConnectAsync(node.Endpoint, settings, CancellationToken.None);

        async Task<(int Status, string Message, byte[] Bytes)> ReadAsync(OstObject obj, byte[]? capability)
        {
            using var frame = FrameBuffer.Rent();
            new OstReadRequest(new ObjectRef(obj.OstIndex, obj.ObjectId), 0, 4096).Write(frame.Body);
            FileCapability.Decode(capability)?.WriteFor(frame.Body, obj);
            var destination = new byte[4096];
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, destination, settings.Xids.Next(), false, CancellationToken.None);
            return (reply.Status, reply.Status == 0 ? string.Empty : reply.ErrorMessage, destination);
        }

        // None at all.
        var missing = await ReadAsync(first, null);
        Assert.Equal((int)LustreErrno.EACCES, missing.Status);
        Assert.Contains("sent no capability", missing.Message, StringComparison.Ordinal);

        // Forged: the right shape, a made-up tag.
        var forged = FileCapability.Encode(CapabilityRights.Read, now + 60_000, [first], (_, tag) => Random.Shared.NextBytes(tag));
        Assert.Contains("does not verify", (await ReadAsync(first, forged)).Message, StringComparison.Ordinal);

        // Signed, but expired a second ago.
        var expired = signer.Issue(alice.Name, CapabilityRights.Read, now - 1000, [first]);
        var late = await ReadAsync(first, expired);
        Assert.Equal((int)LustreErrno.EACCES, late.Status);
        Assert.Contains("expired", late.Message, StringComparison.Ordinal);

        // Signed for bob, sent on alice's connection; signed for the first object, sent for the second.
        Assert.Contains("does not verify", (await ReadAsync(first, signer.Issue("bob", CapabilityRights.Read, [first]))).Message, StringComparison.Ordinal);
        var forFirst = FileCapability.Decode(signer.Issue(alice.Name, CapabilityRights.Read, [first]))!;
        using (var frame = FrameBuffer.Rent())
        {
            new OstReadRequest(new ObjectRef(second.OstIndex, second.ObjectId), 0, 4096).Write(frame.Body);
            forFirst.WriteFor(frame.Body, first);
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, new byte[4096], settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EACCES, reply.Status);
            Assert.Contains("does not verify", reply.ErrorMessage, StringComparison.Ordinal);
        }

        // A read-only capability does not write or punch.
        var readOnly = FileCapability.Decode(signer.Issue(alice.Name, CapabilityRights.Read, [first]))!;
        using (var frame = FrameBuffer.Rent())
        {
            new OstWriteRequest(new ObjectRef(first.OstIndex, first.ObjectId), 0).Write(frame.Body);
            readOnly.WriteFor(frame.Body, first);
            using var reply = await connection.CallAsync(Opcode.OstWrite, frame, new byte[4096], default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EACCES, reply.Status);
            Assert.Contains("grants Read, not Write", reply.ErrorMessage, StringComparison.Ordinal);
        }

        using (var frame = FrameBuffer.Rent())
        {
            new OstPunchRequest(new ObjectRef(first.OstIndex, first.ObjectId), 0).Write(frame.Body);
            readOnly.WriteFor(frame.Body, first);
            using var reply = await connection.CallAsync(Opcode.OstPunch, frame, default, default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EACCES, reply.Status);
        }

        // A signed one reads, and every refusal above changed nothing: the object still holds the first stripe.
        var good = await ReadAsync(first, signer.Issue(alice.Name, CapabilityRights.Read, [first]));
        Assert.Equal(0, good.Status);
        Assert.Equal(data.AsSpan(0, 4096).ToArray(), good.Bytes);
    }

    [Fact]
    public async Task The_SDK_renews_a_capability_before_it_expires_and_a_chmod_since_the_open_takes_effect_at_the_renewal()
    {
        var (node, address, keys) = await StartAsync(TimeSpan.FromSeconds(2));
        await using var _ = node;
        await using var alice = new LustreClient(address, As(keys.Single(k => k.Name == "alice")));
        await using var bob = new LustreClient(address, As(keys.Single(k => k.Name == "bob")));
        var data = new byte[1 << 20];
        Random.Shared.NextBytes(data);
        await using (var file = await alice.OpenFileAsync("/alice/shared", FileMode.CreateNew))
        {
            await file.WriteAtAsync(0, data);
        }

        await alice.SetModeAsync("/alice/shared", (UnixFileMode)0x1A4); // 0644
        await using var reader = await bob.OpenFileAsync("/alice/shared", FileMode.Open, FileAccess.Read);
        var issued = reader.Capability!.ExpiresMs;

        // Past the first capability's life: the reader renewed it and reads on.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var bytes = new byte[data.Length];
        Assert.Equal(data.Length, await reader.ReadAtAsync(0, bytes));
        Assert.Equal(data, bytes);
        Assert.True(reader.Capability!.ExpiresMs > issued, "the capability was not renewed");

        // Alice takes read permission away; bob's open handle keeps its capability only until it must renew.
        await alice.SetModeAsync("/alice/shared", (UnixFileMode)0x180); // 0600
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(async () => await reader.ReadAtAsync(0, bytes));
    }

    [Fact]
    public async Task A_client_key_extends_and_verifies_its_own_mirrored_file_through_capabilities_and_another_cannot_extend_it()
    {
        var (node, address, keys) = await StartAsync(CapabilityKeys.DefaultLifetime);
        await using var _ = node;
        await using var alice = new LustreClient(address, As(keys.Single(k => k.Name == "alice")));
        var data = new byte[3 << 20];
        Random.Shared.NextBytes(data);
        await using (var file = await alice.OpenFileAsync("/alice/m", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1)))
        {
            await file.WriteAtAsync(0, data);
        }

        // Extending copies the file to the new mirror (a resync by alice, with the capability its BeginResync was
        // answered with) before it returns the layout with every mirror in sync.
        var extended = await alice.ExtendMirrorsAsync("/alice/m", FileLayout.Raid0(1 << 20, stripeCount: 1));
        Assert.Equal(2, extended.MirrorCount);
        Assert.All(extended.Mirrors, m => Assert.False(m.IsStale, $"mirror {m.Id} is stale"));

        // Verify opens no handle: its first reads are refused for want of a capability, it renews one, and reads on.
        var verified = await alice.VerifyMirrorsAsync("/alice/m");
        Assert.True(verified.IsConsistent);
        Assert.Equal(2, verified.MirrorsCompared.Count);

        await using var bob = new LustreClient(address, As(keys.Single(k => k.Name == "bob")));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.ExtendMirrorsAsync("/alice/m", FileLayout.Raid0(1 << 20, stripeCount: 1)));
    }

    [Fact]
    public async Task A_client_key_writing_into_a_new_pfl_component_gets_a_capability_for_its_objects_and_a_reader_cannot_change_the_components()
    {
        var (node, address, keys) = await StartAsync(CapabilityKeys.DefaultLifetime);
        await using var _ = node;
        await using var alice = new LustreClient(address, As(keys.Single(k => k.Name == "alice")));
        var layout = FileLayout.Composite([new LayoutComponent(0, 1 << 20, 1 << 20, 1), new LayoutComponent(1 << 20, LayoutComponent.Eof, 1 << 20, 2)]);
        await using (var file = await alice.OpenFileAsync("/alice/pfl", FileMode.CreateNew, layout: layout))
        {
            await file.WriteAtAsync(0, new byte[100]);
            Assert.False(file.Layout.Components[1].IsInstantiated);

            // The instantiation's answer carries a capability that covers the new objects: no renewal is needed.
            using var recorder = new Diagnostics.TelemetryRecorder();
            await file.WriteAtAsync(2 << 20, new byte[100]);
            Assert.All(file.Layout.Components[1].Objects, o => Assert.True(file.Capability!.Covers(o), $"{o} is not covered"));
            Assert.Equal((1, 0), (recorder.Rpcs(node.Endpoint.ToString(), "MdsLayout"), recorder.Rpcs(node.Endpoint.ToString(), "MdsCapability")));
        }

        // Bob may read alice's file (0644) but not write it, so not change its components either.
        await using var bob = new LustreClient(address, As(keys.Single(k => k.Name == "bob")));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.DeleteUninstantiatedLayoutComponentsAsync("/alice/pfl"));
    }

    [Fact]
    public async Task A_client_key_migrates_its_own_file_through_capabilities_and_a_capability_from_before_the_swap_does_not_write_the_new_objects()
    {
        var (node, address, keys) = await StartAsync(CapabilityKeys.DefaultLifetime);
        await using var _ = node;
        var alice = keys.Single(k => k.Name == "alice");
        await using var client = new LustreClient(address, As(alice));
        var data = new byte[3 << 20];
        Random.Shared.NextBytes(data);
        await using (var file = await client.OpenFileAsync("/alice/g", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1)))
        {
            await file.WriteAtAsync(0, data);
        }

        await client.SetModeAsync("/alice/g", (UnixFileMode)0x1A4); // 0644: bob reads it, only alice writes it
        FileCapability old;
        await using (var writer = await client.OpenFileAsync("/alice/g", FileMode.Open, FileAccess.ReadWrite))
        {
            old = writer.Capability!;
        }

        // The copy reads the old objects and writes the new ones with the capability Begin answered with.
        var migrated = await client.MigrateAsync("/alice/g", FileLayout.Raid0(1 << 20, stripeCount: 2));
        Assert.Equal(2, migrated.Layout!.Components[0].StripeCount);
        await using (var reader = await client.OpenFileAsync("/alice/g", FileMode.Open, FileAccess.Read))
        {
            var back = new byte[data.Length];
            Assert.Equal(data.Length, await reader.ReadAtAsync(0, back));
            Assert.Equal(data, back);
        }

        // A capability issued before the swap names the old objects only: the OSS refuses it for a new one.
        var target = migrated.Layout.AllObjects().First();
        var settings = new RpcConnectionSettings("raw-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), alice.Secret, NullLogger.Instance, KeyName: alice.Name);
        await using var connection = await RpcConnection.ConnectAsync(node.Endpoint, settings, CancellationToken.None);
        Assert.False(old.Covers(target));
        using (var frame = FrameBuffer.Rent())
        {
            new OstWriteRequest(new ObjectRef(target.OstIndex, target.ObjectId), 0).Write(frame.Body);
            old.WriteFor(frame.Body, target);
            using var reply = await connection.CallAsync(Opcode.OstWrite, frame, new byte[4096], default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EACCES, reply.Status);
        }

        // Bob may read the file, not write it: he may not migrate it.
        await using var bob = new LustreClient(address, As(keys.Single(k => k.Name == "bob")));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.MigrateAsync("/alice/g", FileLayout.Raid0(1 << 20, stripeCount: 1)));
        Assert.Equal(2, (await client.GetInfoAsync("/alice/g")).Layout!.Components[0].StripeCount);
    }

    [Fact]
    public async Task Batched_opens_and_reads_by_a_client_key_carry_capabilities_checked_for_every_file_and_range()
    {
        var (node, address, keys) = await StartAsync(TimeSpan.FromSeconds(2));
        await using var _ = node;
        var aliceKey = keys.Single(k => k.Name == "alice");
        await using var alice = new LustreClient(address, As(aliceKey));
        await using var bob = new LustreClient(address, As(keys.Single(k => k.Name == "bob")));
        var data = new Dictionary<string, byte[]>();
        foreach (var (name, mode) in new[] { ("a", 0x1A4), ("b", 0x1A4), ("secret", 0x180) })
        {
            data[name] = new byte[10_000 + name.Length];
            Random.Shared.NextBytes(data[name]);
            await using (var file = await alice.OpenFileAsync($"/alice/{name}", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1, stripeOffset: 0)))
            {
                await file.WriteAtAsync(0, data[name]);
            }

            await alice.SetModeAsync($"/alice/{name}", (UnixFileMode)mode);
        }

        var entries = new Dictionary<string, LustreDirectoryEntry>();
        await foreach (var entry in bob.EnumerateDirectoryAsync("/alice"))
        {
            entries[entry.Name] = entry;
        }

        // The 0600 file fails the whole call, naming it; the readable ones open with read-only capabilities.
        var denied = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => bob.OpenFilesAsync([entries["a"], entries["secret"], entries["b"]]));
        Assert.Contains("/alice/secret", denied.Message, StringComparison.Ordinal);
        var files = await bob.OpenFilesAsync([entries["a"], entries["b"]]);
        Assert.All(files, f => Assert.Equal(CapabilityRights.Read, f.Capability!.Rights));

        // Both on OST 0: one batch, a capability per range. Past the capabilities' life, the batch renews them first.
        for (var round = 0; round < 2; round++)
        {
            var a = new byte[data["a"].Length];
            var b = new byte[100];
            Assert.Equal([a.Length, 100], await bob.ReadBatchAsync([new LustreReadRequest(files[0], 0, a), new LustreReadRequest(files[1], 50, b)]));
            Assert.Equal(data["a"], a);
            Assert.Equal(data["b"].AsSpan(50, 100).ToArray(), b);
            await Task.Delay(TimeSpan.FromSeconds(2.5));
        }

        // Raw: a batch whose second range's capability is signed for the first object is refused, nothing read.
        var first = files[0].Layout.Components[0].Objects[0];
        var second = files[1].Layout.Components[0].Objects[0];
        var signer = CapabilityKeys.From(keys, CapabilityKeys.DefaultLifetime)!;
        var settings = new RpcConnectionSettings("raw-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), aliceKey.Secret, NullLogger.Instance, KeyName: aliceKey.Name);
        await using var connection = await RpcConnection.ConnectAsync(node.Endpoint, settings, CancellationToken.None);
        async Task<(int Status, string Message, byte[] Bytes)> BatchAsync(OstObject secondSignedFor)
        {
            using var frame = FrameBuffer.Rent();
            new OstReadBatchRequest(0, [new ObjectRange(first.ObjectId, 0, 10), new ObjectRange(second.ObjectId, 0, 10)]).Write(frame.Body);
            FileCapability.Decode(signer.Issue(aliceKey.Name, CapabilityRights.Read, [first]))!.WriteFor(frame.Body, first);
            FileCapability.Decode(signer.Issue(aliceKey.Name, CapabilityRights.Read, [secondSignedFor]))!.WriteFor(frame.Body, secondSignedFor);
            var bulk = new byte[20];
            using var reply = await connection.CallAsync(Opcode.OstReadBatch, frame, default, bulk, settings.Xids.Next(), false, CancellationToken.None);
            return (reply.Status, reply.Status == 0 ? string.Empty : reply.ErrorMessage, bulk);
        }

        var refused = await BatchAsync(first);
        Assert.Equal((int)LustreErrno.EACCES, refused.Status);
        Assert.Contains("does not verify", refused.Message, StringComparison.Ordinal);
        var accepted = await BatchAsync(second);
        Assert.Equal(0, accepted.Status);
        Assert.Equal(data["a"].AsSpan(0, 10).ToArray().Concat(data["b"].AsSpan(0, 10).ToArray()), accepted.Bytes);
    }
}
