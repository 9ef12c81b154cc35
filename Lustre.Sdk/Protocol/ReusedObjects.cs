using Microsoft.Extensions.ObjectPool;

namespace Lustre.Protocol;

/// <summary>
/// Pools of objects that are made by a factory (so their constructors can stay private) and always kept when given
/// back: their owners reset every field when they take one, so nothing is checked on return.
/// </summary>
internal static class ReusedObjects
{
    /// <summary>A pool that keeps up to <paramref name="retained"/> objects made by <paramref name="create"/>.</summary>
    public static ObjectPool<T> Pool<T>(Func<T> create, int retained)
        where T : class => new DefaultObjectPool<T>(new Policy<T>(create), retained);

    private sealed class Policy<T>(Func<T> create) : PooledObjectPolicy<T>
        where T : class
    {
        public override T Create() => create();

        public override bool Return(T item) => true;
    }
}
