using YamlDotNet.RepresentationModel;

namespace Lustre.Tests.Stats;

/// <summary>Reads <c>job_stats</c> as an operator's script would: with a YAML parser, into job id → counter → field.</summary>
internal static class JobYaml
{
    public static Dictionary<string, Dictionary<string, Dictionary<string, string>>> Parse(string text)
    {
        var jobs = new Dictionary<string, Dictionary<string, Dictionary<string, string>>>(StringComparer.Ordinal);
        if (text.Length == 0)
        {
            return jobs;
        }

        var yaml = new YamlStream();
        yaml.Load(new StringReader(text));
        var root = (YamlMappingNode)yaml.Documents.Single().RootNode;
        foreach (YamlMappingNode job in ((YamlSequenceNode)root.Children[new YamlScalarNode("job_stats")]).Children.Cast<YamlMappingNode>())
        {
            var counters = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
            string? id = null;
            foreach (var (key, value) in job.Children)
            {
                var name = ((YamlScalarNode)key).Value!;
                if (name == "job_id")
                {
                    id = ((YamlScalarNode)value).Value;
                }
                else if (value is YamlMappingNode fields)
                {
                    counters[name] = fields.Children.Where(f => f.Value is YamlScalarNode).ToDictionary(f => ((YamlScalarNode)f.Key).Value!, f => ((YamlScalarNode)f.Value).Value!, StringComparer.Ordinal);
                }
                else
                {
                    counters[name] = new Dictionary<string, string>(StringComparer.Ordinal) { ["value"] = ((YamlScalarNode)value).Value! };
                }
            }

            jobs[id ?? throw new InvalidDataException("a job without job_id")] = counters;
        }

        return jobs;
    }
}
