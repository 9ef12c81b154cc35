using System.Collections;

namespace Lustre.Layouts;

/// <summary>
/// Every object of a layout, in every mirror (<see cref="FileLayout.AllObjects"/>): a struct with a struct enumerator,
/// so a <c>foreach</c> over a file's objects (on every open, unlink and stat of a file open for write) allocates
/// nothing, where LINQ's <c>SelectMany</c> allocated its iterators and one array enumerator per component.
/// </summary>
internal readonly struct LayoutObjects(FileLayout layout) : IEnumerable<OstObject>
{
    public Enumerator GetEnumerator() => new(layout);

    /// <summary>True when the layout has an object (found without boxing this struct, as LINQ's <c>Any</c> would).</summary>
    public bool Any()
    {
        var enumerator = GetEnumerator();
        return enumerator.MoveNext();
    }

    IEnumerator<OstObject> IEnumerable<OstObject>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Walks the mirrors (or the layout itself), their components, and each component's objects.</summary>
    internal struct Enumerator(FileLayout layout) : IEnumerator<OstObject>
    {
        private int _mirror;
        private int _component;
        private int _object = -1;

        public OstObject Current { get; private set; }

        readonly object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            while (Source() is { } source)
            {
                if (_component < source.Components.Count)
                {
                    var component = source.ComponentAtIndex(_component);
                    if (++_object < component.Objects.Count)
                    {
                        Current = component.ObjectAt(_object);
                        return true;
                    }

                    _component++;
                    _object = -1;
                    continue;
                }

                _mirror++;
                _component = 0;
                _object = -1;
            }

            return false;
        }

        /// <summary>The layout whose components are being walked: the mirror at <see cref="_mirror"/>, or the layout itself when it has none.</summary>
        private readonly FileLayout? Source()
        {
            var mirrors = layout.Mirrors.Count;
            if (mirrors == 0)
            {
                return _mirror == 0 ? layout : null;
            }

            return _mirror < mirrors ? layout.Mirrors[_mirror].Layout : null;
        }

        public void Reset()
        {
            _mirror = 0;
            _component = 0;
            _object = -1;
        }

        public readonly void Dispose()
        {
        }
    }
}
