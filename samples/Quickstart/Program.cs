Console.WriteLine("Quickstart: the embedded cluster lands with the foundation issue.");
