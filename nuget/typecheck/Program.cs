// Usage: dotnet run --project nuget/typecheck -- FOLDER ASSEMBLY...
// Reads every .dll under FOLDER (the extracted packages) whose assembly name is one of ASSEMBLY, and fails when a
// type (namespace + name, nested types included, internal ones too) is defined by more than one of them. Copies of
// one assembly in several packages (the tool bundles Lustre.Sdk.dll and Lustre.Server.dll) must be the same build.
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: typecheck FOLDER ASSEMBLY...");
    return 2;
}

var ours = args[1..].ToHashSet(StringComparer.Ordinal);
var builds = new Dictionary<string, (Guid Mvid, string Path)>(StringComparer.Ordinal);
var definedIn = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
var failed = false;
foreach (var path in Directory.EnumerateFiles(args[0], "*.dll", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
{
    using var pe = new PEReader(File.OpenRead(path));
    if (!pe.HasMetadata)
    {
        continue;
    }

    var metadata = pe.GetMetadataReader();
    if (!metadata.IsAssembly || metadata.GetString(metadata.GetAssemblyDefinition().Name) is not { } name || !ours.Contains(name))
    {
        continue;
    }

    var mvid = metadata.GetGuid(metadata.GetModuleDefinition().Mvid);
    if (builds.TryGetValue(name, out var seen))
    {
        if (seen.Mvid != mvid)
        {
            Console.Error.WriteLine($"typecheck: {path} and {seen.Path} are different builds of {name}");
            failed = true;
        }

        continue;
    }

    builds[name] = (mvid, path);
    var count = 0;
    foreach (var handle in metadata.TypeDefinitions)
    {
        if (FullName(metadata, handle) is { } type)
        {
            if (!definedIn.TryGetValue(type, out var assemblies))
            {
                definedIn[type] = assemblies = new SortedSet<string>(StringComparer.Ordinal);
            }

            assemblies.Add(name);
            count++;
        }
    }

    Console.WriteLine($"typecheck: {name}: {count} types ({Path.GetRelativePath(args[0], path)})");
}

foreach (var name in ours.Where(name => !builds.ContainsKey(name)))
{
    Console.Error.WriteLine($"typecheck: no {name}.dll under {args[0]}");
    failed = true;
}

foreach (var (type, assemblies) in definedIn.Where(entry => entry.Value.Count > 1))
{
    Console.Error.WriteLine($"typecheck: {type} is defined in {string.Join(", ", assemblies)}");
    failed = true;
}

Console.WriteLine(failed ? "typecheck: FAILED" : $"typecheck: OK, {definedIn.Count} types, each defined in exactly one of {string.Join(", ", builds.Keys.Order(StringComparer.Ordinal))}");
return failed ? 1 : 0;

// Namespace.Outer+Inner, or null for what the compiler makes per assembly: <Module>, <...> types (lambdas, state
// machines, file-local and generated types) and the attributes it embeds ([Embedded] or [CompilerGenerated]).
static string? FullName(MetadataReader metadata, TypeDefinitionHandle handle)
{
    var type = metadata.GetTypeDefinition(handle);
    var name = metadata.GetString(type.Name);
    if (name.StartsWith('<') || IsCompilerMade(metadata, type))
    {
        return null;
    }

    var declaring = type.GetDeclaringType();
    if (!declaring.IsNil)
    {
        return FullName(metadata, declaring) is { } outer ? $"{outer}+{name}" : null;
    }

    var ns = metadata.GetString(type.Namespace);
    return ns.Length == 0 ? name : $"{ns}.{name}";
}

static bool IsCompilerMade(MetadataReader metadata, TypeDefinition type)
{
    foreach (var handle in type.GetCustomAttributes())
    {
        var constructor = metadata.GetCustomAttribute(handle).Constructor;
        var attributeType = constructor.Kind switch
        {
            HandleKind.MethodDefinition => TypeName(metadata, metadata.GetMethodDefinition((MethodDefinitionHandle)constructor).GetDeclaringType()),
            HandleKind.MemberReference => metadata.GetMemberReference((MemberReferenceHandle)constructor).Parent is { Kind: HandleKind.TypeReference } parent
                ? TypeName(metadata, (TypeReferenceHandle)parent)
                : null,
            _ => null,
        };
        if (attributeType is "Microsoft.CodeAnalysis.EmbeddedAttribute" or "System.Runtime.CompilerServices.CompilerGeneratedAttribute")
        {
            return true;
        }
    }

    return false;
}

static string TypeName(MetadataReader metadata, EntityHandle handle) => handle.Kind == HandleKind.TypeReference
    ? $"{metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)handle).Namespace)}.{metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)handle).Name)}"
    : $"{metadata.GetString(metadata.GetTypeDefinition((TypeDefinitionHandle)handle).Namespace)}.{metadata.GetString(metadata.GetTypeDefinition((TypeDefinitionHandle)handle).Name)}";
