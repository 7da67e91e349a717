from velollm.entry import main

raise SystemExit(main())
